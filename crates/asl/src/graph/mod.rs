//! A state machine as a picture, as the Step Functions console draws it:
//! states as nodes, their transitions as labelled edges (`Next`, each Choice
//! rule and `Default`, each `Catch`), Parallel branches and Map processors as
//! nested boxes. [`Diagram::of`] builds the model once; [`text`] writes it as
//! Graphviz DOT or Mermaid, [`svg`] lays it out and draws it.

pub mod svg;
pub mod text;

use crate::{Graph, StateKind, StateMachine, Transition};
use std::collections::HashMap;

/// One graph of the diagram: the top level, a Parallel branch or a Map's
/// item processor.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// What the box says ("branch 1", "item processor"); empty at the top level.
    pub label: String,
    pub start: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The states that end this graph (`End`, Succeed, Fail).
    pub ends: Vec<String>,
}

/// A state.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique in the diagram, safe in every output format (`s0`, `s1`, ...).
    pub id: String,
    pub name: String,
    /// `Task`, `Choice`, ...
    pub kind: &'static str,
    /// The branches of a Parallel state, the processor of a Map state.
    pub children: Vec<Cluster>,
}

/// Why a transition is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    Choice,
    Default,
    Catch,
}

/// A transition between two states of one cluster (by node id).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// "rule 1", "Default", the error names a catcher takes; none for `Next`.
    pub label: Option<String>,
}

/// The whole picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    pub root: Cluster,
}

impl Diagram {
    /// The diagram of `machine`. State names are unique in a machine, so
    /// each maps to one node id.
    pub fn of(machine: &StateMachine) -> Diagram {
        let ids: HashMap<&str, String> =
            machine.root.all_states().into_iter().enumerate().map(|(i, s)| (s.name.as_str(), format!("s{i}"))).collect();
        Diagram { root: cluster(&machine.root, String::new(), &ids) }
    }

    /// The node id of the state called `name`.
    pub fn id_of(&self, name: &str) -> Option<&str> {
        fn find<'a>(cluster: &'a Cluster, name: &str) -> Option<&'a str> {
            cluster
                .nodes
                .iter()
                .find_map(|n| if n.name == name { Some(n.id.as_str()) } else { n.children.iter().find_map(|c| find(c, name)) })
        }
        find(&self.root, name)
    }
}

fn cluster(graph: &Graph, label: String, ids: &HashMap<&str, String>) -> Cluster {
    let id = |name: &str| ids.get(name).cloned().unwrap_or_else(|| name.to_string());
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut ends = Vec::new();
    for state in graph.states.values() {
        let from = id(&state.name);
        let mut edge = |to: &str, kind, label: Option<String>| edges.push(Edge { from: from.clone(), to: id(to), kind, label });
        let children = match &state.kind {
            StateKind::Parallel(p) => p.branches.iter().enumerate().map(|(i, b)| cluster(b, format!("branch {}", i + 1), ids)).collect(),
            StateKind::Map(m) => vec![cluster(&m.processor, "item processor".into(), ids)],
            _ => Vec::new(),
        };
        match state.transition() {
            Some(Transition::Next(next)) => edge(next, EdgeKind::Next, None),
            Some(Transition::End) => ends.push(from.clone()),
            None => {}
        }
        match &state.kind {
            StateKind::Choice(choice) => {
                for (i, rule) in choice.choices.iter().enumerate() {
                    edge(&rule.next, EdgeKind::Choice, Some(format!("rule {}", i + 1)));
                }
                if let Some(default) = &choice.default {
                    edge(default, EdgeKind::Default, Some("Default".into()));
                }
            }
            StateKind::Succeed(_) | StateKind::Fail(_) => ends.push(from.clone()),
            _ => {}
        }
        for catcher in state.catchers() {
            edge(&catcher.next, EdgeKind::Catch, Some(format!("Catch: {}", catcher.error_equals.join(", "))));
        }
        nodes.push(Node { id: from.clone(), name: state.name.clone(), kind: state.type_name(), children });
    }
    Cluster { label, start: id(&graph.start_at), nodes, edges, ends }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_definition;

    pub(super) const NESTED: &str = r#"{"StartAt": "Check", "States": {
      "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Both"}], "Default": "Nope"},
      "Both": {"Type": "Parallel", "Branches": [
          {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "wasm:a", "End": true}}},
          {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Succeed"}}}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nope"}], "Next": "Each"},
      "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "M", "States": {"M": {"Type": "Pass", "End": true}}}, "Next": "Again"},
      "Again": {"Type": "Choice", "Choices": [{"Variable": "$.again", "BooleanEquals": true, "Next": "Check"}], "Default": "Done"},
      "Done": {"Type": "Succeed"},
      "Nope": {"Type": "Fail", "Error": "No"}}}"#;

    #[test]
    fn every_state_and_transition_is_in_the_diagram() {
        let d = Diagram::of(&parse_definition(NESTED).unwrap());
        let root = &d.root;
        assert_eq!(root.start, d.id_of("Check").unwrap());
        let names: Vec<&str> = root.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Check", "Both", "Each", "Again", "Done", "Nope"]);
        let labelled = |from: &str, to: &str| {
            root.edges.iter().find(|e| e.from == d.id_of(from).unwrap() && e.to == d.id_of(to).unwrap()).map(|e| (e.kind, e.label.clone()))
        };
        assert_eq!(labelled("Check", "Both"), Some((EdgeKind::Choice, Some("rule 1".into()))));
        assert_eq!(labelled("Check", "Nope"), Some((EdgeKind::Default, Some("Default".into()))));
        assert_eq!(labelled("Both", "Nope"), Some((EdgeKind::Catch, Some("Catch: States.ALL".into()))));
        assert_eq!(labelled("Both", "Each"), Some((EdgeKind::Next, None)));
        assert_eq!(labelled("Again", "Check").map(|l| l.0), Some(EdgeKind::Choice), "a loop back is an edge too");
        assert_eq!(root.ends, [d.id_of("Done").unwrap(), d.id_of("Nope").unwrap()]);
        let both = &root.nodes[1];
        assert_eq!(both.children.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["branch 1", "branch 2"]);
        assert_eq!(both.children[1].edges.len(), 1);
        assert_eq!(both.children[1].ends, [d.id_of("B2").unwrap()]);
        assert_eq!(root.nodes[2].children[0].label, "item processor");
    }
}
