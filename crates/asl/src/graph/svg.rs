//! The diagram drawn as SVG, with a layered layout of its own: in each
//! cluster, a state's row is its distance from the cluster's start, rows are
//! centred, a Parallel or Map state is a box holding its branches side by
//! side. Edges that go down are straight; those that go back up (loops) or
//! across a row curve around the right side. Every state is a
//! `<g class="state" data-state="…" data-type="…">`, so a page can colour it.

use super::{Cluster, Diagram, EdgeKind, Node};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

const NODE_H: f64 = 40.0;
const MIN_W: f64 = 110.0;
const CHAR_W: f64 = 7.0;
const GAP_X: f64 = 28.0;
const GAP_Y: f64 = 46.0;
const PAD: f64 = 12.0;
/// Above a branch's states: its label.
const LABEL_H: f64 = 20.0;
/// The Start and End circles.
const RADIUS: f64 = 14.0;

/// A cluster laid out: its size and where each of its nodes goes (relative
/// to the cluster's top-left corner).
struct Laid {
    w: f64,
    h: f64,
    places: HashMap<String, Place>,
}

struct Place {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    row: usize,
    /// The node's own clusters (branches).
    children: Vec<Branch>,
}

/// A branch of a Parallel or Map state, laid out, at (`x`, `y`) from the
/// state's top-left corner.
struct Branch {
    x: f64,
    y: f64,
    laid: Laid,
}

/// Rows by distance from the start, over every kind of edge.
fn rows(cluster: &Cluster) -> HashMap<&str, usize> {
    let mut row: HashMap<&str, usize> = HashMap::new();
    let mut queue = VecDeque::from([(cluster.start.as_str(), 0)]);
    while let Some((id, r)) = queue.pop_front() {
        if row.contains_key(id) {
            continue;
        }
        row.insert(id, r);
        for e in cluster.edges.iter().filter(|e| e.from == id) {
            queue.push_back((e.to.as_str(), r + 1));
        }
    }
    // Parsing guarantees reachability; anything else goes to a last row.
    let last = row.values().max().map_or(0, |m| m + 1);
    for node in &cluster.nodes {
        row.entry(node.id.as_str()).or_insert(last);
    }
    row
}

fn node_size(node: &Node, children: &[Branch]) -> (f64, f64) {
    let text = node.name.chars().count().max(node.kind.len()) as f64;
    let own = (text * CHAR_W + 24.0).max(MIN_W);
    if children.is_empty() {
        return (own, NODE_H);
    }
    let inner_w = children.iter().map(|b| b.laid.w).sum::<f64>() + GAP_X * (children.len() - 1) as f64;
    let inner_h = children.iter().map(|b| b.laid.h).fold(0.0, f64::max);
    (own.max(inner_w + 2.0 * PAD), NODE_H + inner_h + PAD)
}

fn layout(cluster: &Cluster, top: f64) -> Laid {
    let row = rows(cluster);
    let rows_n = row.values().max().map_or(0, |m| m + 1);
    let mut places: HashMap<String, Place> = HashMap::new();
    let mut by_row: Vec<Vec<&Node>> = vec![Vec::new(); rows_n];
    for node in &cluster.nodes {
        by_row[row[node.id.as_str()]].push(node);
    }
    let mut sizes: HashMap<&str, (f64, f64, Vec<Branch>)> = HashMap::new();
    for node in &cluster.nodes {
        let mut children: Vec<Branch> = node.children.iter().map(|c| Branch { x: 0.0, y: 0.0, laid: layout(c, LABEL_H) }).collect();
        let (w, h) = node_size(node, &children);
        // Branches side by side, centred under the state's title.
        let inner_w = children.iter().map(|b| b.laid.w).sum::<f64>() + GAP_X * children.len().saturating_sub(1) as f64;
        let mut x = (w - inner_w) / 2.0;
        for child in &mut children {
            child.x = x;
            child.y = NODE_H;
            x += child.laid.w + GAP_X;
        }
        sizes.insert(node.id.as_str(), (w, h, children));
    }
    let row_widths: Vec<f64> = by_row
        .iter()
        .map(|nodes| nodes.iter().map(|n| sizes[n.id.as_str()].0).sum::<f64>() + GAP_X * nodes.len().saturating_sub(1) as f64)
        .collect();
    let width = row_widths.iter().copied().fold(0.0, f64::max) + 2.0 * PAD;
    let mut y = top + PAD;
    for (r, nodes) in by_row.iter().enumerate() {
        let mut x = (width - row_widths[r]) / 2.0;
        let mut row_h: f64 = 0.0;
        for node in nodes {
            let (w, h, children) = sizes.remove(node.id.as_str()).unwrap_or((MIN_W, NODE_H, Vec::new()));
            places.insert(node.id.clone(), Place { x, y, w, h, row: r, children });
            x += w + GAP_X;
            row_h = row_h.max(h);
        }
        y += row_h + GAP_Y;
    }
    Laid { w: width, h: y - GAP_Y + PAD, places }
}

/// The SVG document of `diagram`, titled `title`.
pub fn svg(diagram: &Diagram, title: &str) -> String {
    let root_top = 2.0 * RADIUS + 20.0;
    let laid = layout(&diagram.root, root_top);
    // Room on the right for edges that curve around and for their labels.
    let width = laid.w.max(4.0 * RADIUS) + 40.0 + 6.0 * longest_label(&diagram.root).min(40) as f64;
    let height = laid.h + 2.0 * RADIUS + 24.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    );
    let _ = writeln!(out, "<title>{}</title>", xml(title));
    out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n");
    out.push_str("<style>.state rect{fill:#fff;stroke:#555;stroke-width:1.2}.state .type{fill:#777;font-size:10px}.edge{stroke:#555;fill:none;stroke-width:1.2}.edge.catch{stroke:#c0392b;stroke-dasharray:4 3}.label{fill:#333;font-size:10px}.label.catch{fill:#c0392b}.branch{fill:none;stroke:#aaa;stroke-dasharray:3 3}.branch-label{fill:#777;font-size:10px}.terminal{fill:#e8e8e8;stroke:#555}</style>\n");
    // Start above the first state, End below everything.
    let cx = laid.w / 2.0;
    let _ = writeln!(out, "<g class=\"terminal-start\"><circle class=\"terminal\" cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"{RADIUS}\"/><text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\">Start</text></g>", RADIUS + 6.0, RADIUS + 9.0);
    if let Some(first) = laid.places.get(&diagram.root.start) {
        line(&mut out, (cx, 2.0 * RADIUS + 6.0), (first.x + first.w / 2.0, first.y), "edge", None);
    }
    let end_y = height - RADIUS - 6.0;
    let _ = writeln!(out, "<g class=\"terminal-end\"><circle class=\"terminal\" cx=\"{cx:.1}\" cy=\"{end_y:.1}\" r=\"{RADIUS}\"/><text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\">End</text></g>", end_y + 3.0);
    for end in &diagram.root.ends {
        if let Some(p) = laid.places.get(end) {
            line(&mut out, (p.x + p.w / 2.0, p.y + p.h), (cx, end_y - RADIUS), "edge", None);
        }
    }
    draw(&mut out, &diagram.root, &laid, 0.0, 0.0);
    out.push_str("</svg>\n");
    out
}

/// Draws a laid-out cluster whose corner is at (`ox`, `oy`).
fn draw(out: &mut String, cluster: &Cluster, laid: &Laid, ox: f64, oy: f64) {
    for node in &cluster.nodes {
        let Some(p) = laid.places.get(&node.id) else { continue };
        let (x, y) = (ox + p.x, oy + p.y);
        let _ = writeln!(
            out,
            "<g class=\"state\" id=\"state-{}\" data-state=\"{}\" data-type=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text class=\"type\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            node.id,
            xml(&node.name),
            node.kind,
            p.w,
            p.h,
            x + p.w / 2.0,
            y + 17.0,
            xml(&node.name),
            x + p.w / 2.0,
            y + 31.0,
            node.kind
        );
        for (child, Branch { x: cx, y: cy, laid: child_laid }) in node.children.iter().zip(&p.children) {
            let (bx, by) = (x + cx, y + cy);
            let _ = writeln!(
                out,
                "<g class=\"cluster\"><rect class=\"branch\" x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\"/><text class=\"branch-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                child_laid.w,
                child_laid.h,
                bx + 6.0,
                by + 13.0,
                xml(&child.label)
            );
            draw(out, child, child_laid, bx, by);
        }
    }
    // Edges that loop back, one lane further right each.
    let mut lane = 0.0;
    for edge in &cluster.edges {
        let (Some(from), Some(to)) = (laid.places.get(&edge.from), laid.places.get(&edge.to)) else { continue };
        let class = if edge.kind == EdgeKind::Catch { "edge catch" } else { "edge" };
        let label = edge.label.as_deref().map(|text| (text, edge.kind == EdgeKind::Catch));
        if to.row > from.row {
            line(out, (ox + from.x + from.w / 2.0, oy + from.y + from.h), (ox + to.x + to.w / 2.0, oy + to.y), class, label);
        } else if to.row == from.row && to.x > from.x {
            let y = oy + from.y.max(to.y) + NODE_H / 2.0;
            line(out, (ox + from.x + from.w, y), (ox + to.x, y), class, label);
        } else {
            lane += 14.0;
            let (x1, y1) = (ox + from.x + from.w, oy + from.y + from.h / 2.0);
            let (x2, y2) = (ox + to.x + to.w, oy + to.y + to.h / 2.0);
            let bend = x1.max(x2) + 16.0 + lane;
            let _ = writeln!(out, "<path class=\"{class}\" d=\"M{x1:.1},{y1:.1} C{bend:.1},{y1:.1} {bend:.1},{y2:.1} {x2:.1},{y2:.1}\" marker-end=\"url(#arrow)\"/>");
            if let Some((text, catch)) = label {
                text_at(out, (bend - 4.0, (y1 + y2) / 2.0), text, catch);
            }
        }
    }
}

fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str, label: Option<(&str, bool)>) {
    let _ =
        writeln!(out, "<line class=\"{class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" marker-end=\"url(#arrow)\"/>");
    if let Some((text, catch)) = label {
        // Beside a slanted line, above a level one.
        text_at(out, ((x1 + x2) / 2.0 + 4.0, (y1 + y2) / 2.0 - 4.0), text, catch);
    }
}

fn text_at(out: &mut String, (x, y): (f64, f64), text: &str, catch: bool) {
    let class = if catch { "label catch" } else { "label" };
    let _ = writeln!(out, "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\">{}</text>", xml(text));
}

/// The longest edge label of `cluster` and the clusters in it, in characters.
fn longest_label(cluster: &Cluster) -> usize {
    let own = cluster.edges.iter().filter_map(|e| e.label.as_ref()).map(|l| l.chars().count()).max().unwrap_or(0);
    let nested = cluster.nodes.iter().flat_map(|n| &n.children).map(longest_label).max().unwrap_or(0);
    own.max(nested)
}

/// Text and attribute values in XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::tests::NESTED;
    use super::*;
    use crate::parse_definition;

    #[test]
    fn every_state_is_drawn_once_inside_the_picture_and_branches_inside_their_state() {
        let d = Diagram::of(&parse_definition(NESTED).unwrap());
        let svg = svg(&d, "nested <&>");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("<title>nested &lt;&amp;&gt;</title>"));
        for name in ["Check", "Both", "A", "B", "B2", "Each", "M", "Again", "Done", "Nope"] {
            assert_eq!(svg.matches(&format!("data-state=\"{name}\"")).count(), 1, "{name}");
        }
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
        assert!(svg.contains(">rule 1<") && svg.contains(">Catch: States.ALL<") && svg.contains(">branch 2<"));
        assert!(svg.contains("<path class=\"edge\""), "the loop from Again back to Check curves");

        // Geometry: every state within the canvas; the branches' states
        // inside the Parallel state's box.
        let laid = layout(&d.root, 2.0 * RADIUS + 20.0);
        let both = &laid.places[d.id_of("Both").unwrap()];
        let Branch { x: bx, y: by, laid: branch } = &both.children[1];
        let b2 = &branch.places[d.id_of("B2").unwrap()];
        assert!(bx + b2.x + b2.w <= both.w && by + b2.y + b2.h <= both.h, "B2 is inside Both");
        for p in laid.places.values() {
            assert!(p.x >= 0.0 && p.x + p.w <= laid.w && p.y + p.h <= laid.h);
        }
        let row = |name: &str| laid.places[d.id_of(name).unwrap()].row;
        assert!(row("Check") < row("Both") && row("Both") < row("Each") && row("Each") < row("Again"));
    }
}
