//! Rewrites the parser's raw tree into the evaluator's [`Node`] tree, as
//! jsonata-js `processAST` does: `.` chains become one path of steps,
//! predicates move onto the step they filter, `^(...)` becomes a sort step,
//! string literals used as steps become field names.

use super::ast::{BinOp, Kind, Node};
use super::error::JsonataError;
use super::parser::{Raw, RawKind};
use std::sync::Arc;

fn bx(raw: Raw) -> Result<Box<Node>, JsonataError> {
    Ok(Box::new(process(raw)?))
}

fn pairs(raw: Vec<(Raw, Raw)>) -> Result<Vec<(Node, Node)>, JsonataError> {
    raw.into_iter().map(|(k, v)| Ok((process(k)?, process(v)?))).collect()
}

fn into_path(node: Node) -> Node {
    if matches!(node.kind, Kind::Path { .. }) {
        return node;
    }
    let pos = node.pos;
    Node::new(Kind::Path { steps: vec![node], keep_singleton_array: false }, pos)
}

fn binop(op: &str) -> Option<BinOp> {
    Some(match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "=" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "&" => BinOp::Concat,
        "and" => BinOp::And,
        "or" => BinOp::Or,
        "in" => BinOp::In,
        ".." => BinOp::Range,
        _ => return None,
    })
}

pub(crate) fn process(raw: Raw) -> Result<Node, JsonataError> {
    let keep = raw.keep_array;
    let pos = raw.pos;
    let mut result = match raw.kind {
        RawKind::Binary { op: ".", lhs, rhs } => path_step(process(*lhs)?, process(*rhs)?)?,
        RawKind::Binary { op: ":=", lhs, rhs } => {
            let RawKind::Var(name) = lhs.kind else {
                return Err(JsonataError::new("S0212", "The left side of := must be a variable name").at(pos));
            };
            Node::new(Kind::Bind { name, value: bx(*rhs)? }, pos)
        }
        RawKind::Binary { op: "~>", lhs, rhs } => {
            let (lhs, rhs) = (bx(*lhs)?, bx(*rhs)?);
            let keep_array = lhs.keep_array || rhs.keep_array;
            let mut n = Node::new(Kind::Apply { lhs, rhs }, pos);
            n.keep_array = keep_array;
            n
        }
        RawKind::Binary { op, lhs, rhs } => {
            let op = binop(op).ok_or_else(|| JsonataError::new("S0201", format!("Syntax error: {op}")).at(pos))?;
            Node::new(Kind::Binary { op, lhs: bx(*lhs)?, rhs: bx(*rhs)? }, pos)
        }
        RawKind::Predicate { lhs, rhs } => {
            let mut result = process(*lhs)?;
            let predicate = process(*rhs)?;
            let no_predicate_after_group =
                || JsonataError::new("S0209", "A predicate cannot follow a grouping expression in a step").at(pos);
            if let Kind::Path { steps, .. } = &mut result.kind {
                let step = steps.last_mut().expect("paths have steps");
                if step.group.is_some() {
                    return Err(no_predicate_after_group());
                }
                step.stages.push(predicate);
            } else {
                if result.group.is_some() {
                    return Err(no_predicate_after_group());
                }
                result.predicates.push(predicate);
            }
            result
        }
        RawKind::GroupBy { lhs, pairs: p } => {
            let mut result = process(*lhs)?;
            if result.group.is_some() {
                return Err(JsonataError::new("S0210", "Each step can only have one grouping expression").at(pos));
            }
            result.group = Some(pairs(p)?);
            result
        }
        RawKind::SortBy { lhs, terms } => {
            let mut result = into_path(process(*lhs)?);
            let terms = terms.into_iter().map(|(t, desc)| Ok((process(t)?, desc))).collect::<Result<_, JsonataError>>()?;
            if let Kind::Path { steps, .. } = &mut result.kind {
                steps.push(Node::new(Kind::Sort(terms), pos));
            }
            result
        }
        RawKind::Neg(e) => {
            let inner = process(*e)?;
            match inner.kind {
                Kind::Num(n) if inner.predicates.is_empty() && inner.group.is_none() && !inner.keep_array => Node::new(Kind::Num(-n), pos),
                _ => Node::new(Kind::Neg(Box::new(inner)), pos),
            }
        }
        RawKind::Array(items) => {
            Node::new(Kind::ArrayCons { items: items.into_iter().map(process).collect::<Result<_, _>>()?, cons: false }, pos)
        }
        RawKind::Object(p) => Node::new(Kind::ObjectCons(pairs(p)?), pos),
        RawKind::Name(n) => name_path(n, keep, pos),
        RawKind::OpName(n) => name_path(n.to_string(), keep, pos),
        RawKind::Str(s) => Node::new(Kind::Str(s), pos),
        RawKind::Num(n) => Node::new(Kind::Num(n), pos),
        RawKind::Bool(b) => Node::new(Kind::Bool(b), pos),
        RawKind::Null => Node::new(Kind::Null, pos),
        RawKind::Wildcard => Node::new(Kind::Wildcard, pos),
        RawKind::Descendant => Node::new(Kind::Descendant, pos),
        RawKind::Var(v) => Node::new(Kind::Variable(v), pos),
        RawKind::Regex(r) => Node::new(Kind::Regex(r), pos),
        RawKind::Placeholder => Node::new(Kind::Placeholder, pos),
        RawKind::Condition { cond, then, otherwise } => {
            Node::new(Kind::Condition { cond: bx(*cond)?, then: bx(*then)?, otherwise: otherwise.map(|o| bx(*o)).transpose()? }, pos)
        }
        RawKind::Elvis { lhs, rhs } => Node::new(Kind::Elvis { lhs: bx(*lhs)?, rhs: bx(*rhs)? }, pos),
        RawKind::Coalesce { lhs, rhs } => Node::new(Kind::Coalesce { lhs: bx(*lhs)?, rhs: bx(*rhs)? }, pos),
        RawKind::Block(items) => Node::new(Kind::Block(items.into_iter().map(process).collect::<Result<_, _>>()?), pos),
        RawKind::Call { proc, args, partial } => {
            Node::new(Kind::Call { proc: bx(*proc)?, args: args.into_iter().map(process).collect::<Result<_, _>>()?, partial }, pos)
        }
        RawKind::Lambda { params, signature, body } => {
            Node::new(Kind::Lambda { params, signature: signature.map(Arc::new), body: Arc::new(process(*body)?) }, pos)
        }
    };
    if keep {
        result.keep_array = true;
    }
    Ok(result)
}

fn name_path(name: String, keep: bool, pos: usize) -> Node {
    let mut step = Node::new(Kind::Name(name), pos);
    step.keep_array = keep;
    Node::new(Kind::Path { steps: vec![step], keep_singleton_array: keep }, pos)
}

/// `lhs.rhs`: appends the right side's steps to the left side's path.
fn path_step(lhs: Node, rest: Node) -> Result<Node, JsonataError> {
    let mut path = into_path(lhs);
    let Kind::Path { steps, keep_singleton_array } = &mut path.kind else { unreachable!("into_path returns a path") };
    match rest.kind {
        Kind::Path { steps: more, .. } if rest.group.is_none() && rest.predicates.is_empty() => steps.extend(more),
        _ => {
            let mut rest = rest;
            // Predicates on a step filter each item's result, not the whole.
            let preds = std::mem::take(&mut rest.predicates);
            rest.stages.extend(preds);
            steps.push(rest);
        }
    }
    for step in steps.iter_mut() {
        match &step.kind {
            Kind::Str(s) => step.kind = Kind::Name(s.clone()),
            Kind::Num(_) | Kind::Bool(_) | Kind::Null => {
                return Err(JsonataError::new("S0213", "A literal value cannot be used as a step within a path expression").at(step.pos))
            }
            _ => {}
        }
    }
    if steps.iter().any(|s| s.keep_array) {
        *keep_singleton_array = true;
    }
    let last = steps.len() - 1;
    for i in [0, last] {
        if let Kind::ArrayCons { cons, .. } = &mut steps[i].kind {
            *cons = true;
        }
    }
    Ok(path)
}
