//! The expression tree the evaluator walks: the parser's output after the
//! jsonata-js `processAST` rewrite (see `process.rs`), where `a.b[0].c`
//! has become one path of steps and predicates sit on the step they filter.

use super::signature::Signature;
use std::sync::Arc;

pub(crate) struct Node {
    pub kind: Kind,
    /// Byte offset of the node's token in the expression text.
    pub pos: usize,
    /// `[]` was applied: keep a singleton result as an array.
    pub keep_array: bool,
    /// `[...]` filters on the whole result of a non-path node.
    pub predicates: Vec<Node>,
    /// `[...]` filters applied to each item's result within a path step.
    pub stages: Vec<Node>,
    /// `{...}` grouping applied to the result (`Phone{type: number}`).
    pub group: Option<Vec<(Node, Node)>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
}

pub(crate) enum Kind {
    Path {
        steps: Vec<Node>,
        keep_singleton_array: bool,
    },
    Name(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Wildcard,
    Descendant,
    /// `$name`; `""` is the context `$`, `"$"` the root `$$`.
    Variable(String),
    Regex(regex::Regex),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Neg(Box<Node>),
    /// `[a, b, 1..3]`; `cons` marks a constructor used as a path step.
    ArrayCons {
        items: Vec<Node>,
        cons: bool,
    },
    ObjectCons(Vec<(Node, Node)>),
    Condition {
        cond: Box<Node>,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    /// `a ?: b`
    Elvis {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `a ?? b`
    Coalesce {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Block(Vec<Node>),
    Bind {
        name: String,
        value: Box<Node>,
    },
    /// A call `proc(args)`; `partial` when some arguments are `?`.
    Call {
        proc: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    /// `?` in a partial application.
    Placeholder,
    Lambda {
        params: Vec<String>,
        signature: Option<Arc<Signature>>,
        body: Arc<Node>,
    },
    /// `lhs ~> rhs`
    Apply {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `^(<a, >b)` as a path step: (expression, descending).
    Sort(Vec<(Node, bool)>),
}

impl Node {
    pub fn new(kind: Kind, pos: usize) -> Node {
        Node { kind, pos, keep_array: false, predicates: Vec::new(), stages: Vec::new(), group: None }
    }
}
