//! The diagram as text for other tools: Graphviz DOT and Mermaid. A
//! Parallel or Map state is a node, and each of its branches (or its item
//! processor) a cluster that a dashed edge from the state leads into.

use super::{Cluster, Diagram, EdgeKind};
use std::fmt::Write;

/// Graphviz DOT (`dot -Tsvg`).
pub fn dot(diagram: &Diagram, title: &str) -> String {
    let mut out = format!("digraph {} {{\n", dot_string(title));
    out.push_str("  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  __start [shape=circle, label=\"Start\", fillcolor=\"#e8e8e8\"];\n  __end [shape=doublecircle, label=\"End\", fillcolor=\"#e8e8e8\"];\n");
    let _ = writeln!(out, "  __start -> {};", diagram.root.start);
    dot_cluster(&mut out, &diagram.root, 1);
    for end in &diagram.root.ends {
        let _ = writeln!(out, "  {end} -> __end;");
    }
    out.push_str("}\n");
    out
}

fn dot_cluster(out: &mut String, cluster: &Cluster, depth: usize) {
    let pad = "  ".repeat(depth);
    for node in &cluster.nodes {
        let _ = writeln!(out, "{pad}{} [label={}];", node.id, dot_string(&format!("{}\n{}", node.name, node.kind)));
        for (i, child) in node.children.iter().enumerate() {
            let _ = writeln!(out, "{pad}subgraph cluster_{}_{i} {{", node.id);
            let _ = writeln!(out, "{pad}  label={}; style=dashed;", dot_string(&format!("{}: {}", node.name, child.label)));
            dot_cluster(out, child, depth + 1);
            let _ = writeln!(out, "{pad}}}");
            let _ = writeln!(out, "{pad}{} -> {} [style=dashed, arrowhead=none];", node.id, child.start);
        }
    }
    for edge in &cluster.edges {
        let style = match edge.kind {
            EdgeKind::Catch => ", color=\"#c0392b\", fontcolor=\"#c0392b\"",
            _ => "",
        };
        match &edge.label {
            Some(label) => {
                let _ = writeln!(out, "{pad}{} -> {} [label={}{style}];", edge.from, edge.to, dot_string(label));
            }
            None => {
                let _ = writeln!(out, "{pad}{} -> {};", edge.from, edge.to);
            }
        }
    }
}

/// A DOT string literal.
fn dot_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// Mermaid (`flowchart TD`), as GitHub and many wikis render it.
pub fn mermaid(diagram: &Diagram) -> String {
    let mut out = String::from("flowchart TD\n  __start((Start))\n  __end(((End)))\n");
    let _ = writeln!(out, "  __start --> {}", diagram.root.start);
    mermaid_cluster(&mut out, &diagram.root, 1);
    for end in &diagram.root.ends {
        let _ = writeln!(out, "  {end} --> __end");
    }
    out
}

fn mermaid_cluster(out: &mut String, cluster: &Cluster, depth: usize) {
    let pad = "  ".repeat(depth);
    for node in &cluster.nodes {
        let _ = writeln!(out, "{pad}{}[\"{}<br/><small>{}</small>\"]", node.id, mermaid_text(&node.name), node.kind);
        for (i, child) in node.children.iter().enumerate() {
            let _ = writeln!(out, "{pad}subgraph {}_{i} [\"{}: {}\"]", node.id, mermaid_text(&node.name), child.label);
            mermaid_cluster(out, child, depth + 1);
            let _ = writeln!(out, "{pad}end");
            let _ = writeln!(out, "{pad}{} -.- {}", node.id, child.start);
        }
    }
    for edge in &cluster.edges {
        match &edge.label {
            Some(label) => {
                let _ = writeln!(out, "{pad}{} -->|\"{}\"| {}", edge.from, mermaid_text(label), edge.to);
            }
            None => {
                let _ = writeln!(out, "{pad}{} --> {}", edge.from, edge.to);
            }
        }
    }
}

/// Text inside Mermaid's quotes: its entity codes for what would end them.
fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

#[cfg(test)]
mod tests {
    use super::super::tests::NESTED;
    use super::*;
    use crate::parse_definition;

    #[test]
    fn dot_and_mermaid_name_every_state_and_label_every_edge() {
        let d = Diagram::of(&parse_definition(NESTED).unwrap());
        let dot = dot(&d, "nested \"one\"");
        assert!(dot.starts_with("digraph \"nested \\\"one\\\"\" {\n") && dot.ends_with("}\n"), "{dot}");
        for name in ["Check", "Both", "A", "B", "B2", "Each", "M", "Again", "Done", "Nope"] {
            let id = d.id_of(name).unwrap();
            assert!(dot.contains(&format!("  {id} [label=\"{name}\\n")), "{name} in {dot}");
        }
        assert!(dot.contains(&format!("{} -> {} [label=\"rule 1\"];", d.id_of("Check").unwrap(), d.id_of("Both").unwrap())));
        assert!(dot.contains(&format!("{} -> {} [label=\"Catch: States.ALL\"", d.id_of("Both").unwrap(), d.id_of("Nope").unwrap())));
        assert!(dot.contains(&format!("subgraph cluster_{}_1 {{", d.id_of("Both").unwrap())));
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());

        let mermaid = mermaid(&d);
        assert!(mermaid.starts_with("flowchart TD\n"));
        for name in ["Check", "A", "B2", "M", "Nope"] {
            assert!(mermaid.contains(&format!("{}[\"{name}<br/>", d.id_of(name).unwrap())), "{name} in {mermaid}");
        }
        assert!(mermaid.contains(&format!("{} -->|\"Default\"| {}", d.id_of("Again").unwrap(), d.id_of("Done").unwrap())));
        assert_eq!(mermaid.matches("subgraph ").count(), mermaid.lines().filter(|l| l.trim() == "end").count());
    }
}
