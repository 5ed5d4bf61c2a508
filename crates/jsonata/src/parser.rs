//! Pratt (top-down operator precedence) parser, a port of the jsonata-js
//! parser: tokens have binding powers; `nud` handles a token that starts an
//! operand, `led` one that follows a left operand. The result is a raw tree
//! ([`Raw`]) shaped like jsonata-js's parse tree, rewritten by
//! `process.rs` into the evaluator's [`super::ast::Node`].
//!
//! Untrusted text must not exhaust the stack: the tree's depth is capped at
//! [`MAX_AST_DEPTH`], counting left-nested chains like `1+1+1+...` too.

use super::error::JsonataError;
use super::lexer::{Lexer, Tok, Token};
use super::signature::Signature;

/// Deepest expression tree accepted (nesting of operators, brackets, calls).
pub(crate) const MAX_AST_DEPTH: u32 = 200;

/// Largest compiled size of one regular expression literal (bytes).
const MAX_REGEX_SIZE: usize = 1 << 20;

pub(crate) struct Raw {
    pub kind: RawKind,
    pub pos: usize,
    pub keep_array: bool,
    depth: u32,
}

pub(crate) enum RawKind {
    /// Infix operators, including `.`, `:=`, `~>` and `..`.
    Binary {
        op: &'static str,
        lhs: Box<Raw>,
        rhs: Box<Raw>,
    },
    /// `lhs[rhs]`
    Predicate {
        lhs: Box<Raw>,
        rhs: Box<Raw>,
    },
    /// `lhs{k: v, ...}`
    GroupBy {
        lhs: Box<Raw>,
        pairs: Vec<(Raw, Raw)>,
    },
    /// `lhs^(>a, b)`: (term, descending)
    SortBy {
        lhs: Box<Raw>,
        terms: Vec<(Raw, bool)>,
    },
    Neg(Box<Raw>),
    Array(Vec<Raw>),
    Object(Vec<(Raw, Raw)>),
    Name(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Wildcard,
    Descendant,
    Var(String),
    Regex(regex::Regex),
    Condition {
        cond: Box<Raw>,
        then: Box<Raw>,
        otherwise: Option<Box<Raw>>,
    },
    Elvis {
        lhs: Box<Raw>,
        rhs: Box<Raw>,
    },
    Coalesce {
        lhs: Box<Raw>,
        rhs: Box<Raw>,
    },
    Block(Vec<Raw>),
    Call {
        proc: Box<Raw>,
        args: Vec<Raw>,
        partial: bool,
    },
    Lambda {
        params: Vec<String>,
        signature: Option<Signature>,
        body: Box<Raw>,
    },
    Placeholder,
    /// `and`, `or`, `in` standing where a field name is expected.
    OpName(&'static str),
}

impl Raw {
    fn new(kind: RawKind, pos: usize) -> Result<Raw, JsonataError> {
        let d = |r: &Raw| r.depth;
        let max = |it: &mut dyn Iterator<Item = u32>| it.max().unwrap_or(0);
        let child = match &kind {
            RawKind::Binary { lhs, rhs, .. }
            | RawKind::Predicate { lhs, rhs }
            | RawKind::Elvis { lhs, rhs }
            | RawKind::Coalesce { lhs, rhs } => d(lhs).max(d(rhs)),
            RawKind::GroupBy { lhs, pairs } => d(lhs).max(max(&mut pairs.iter().map(|(k, v)| d(k).max(d(v))))),
            RawKind::SortBy { lhs, terms } => d(lhs).max(max(&mut terms.iter().map(|(t, _)| d(t)))),
            RawKind::Neg(e) => d(e),
            RawKind::Array(items) | RawKind::Block(items) => max(&mut items.iter().map(d)),
            RawKind::Object(pairs) => max(&mut pairs.iter().map(|(k, v)| d(k).max(d(v)))),
            RawKind::Condition { cond, then, otherwise } => d(cond).max(d(then)).max(otherwise.as_ref().map(|o| d(o)).unwrap_or(0)),
            RawKind::Call { proc, args, .. } => d(proc).max(max(&mut args.iter().map(d))),
            RawKind::Lambda { body, .. } => d(body),
            _ => 0,
        };
        if child + 1 > MAX_AST_DEPTH {
            return Err(too_deep(pos));
        }
        Ok(Raw { kind, pos, keep_array: false, depth: child + 1 })
    }
}

fn too_deep(pos: usize) -> JsonataError {
    JsonataError::new("U1002", format!("Expression is nested more than {MAX_AST_DEPTH} levels deep")).at(pos)
}

/// Left binding power of a token (0: it cannot continue an expression).
fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "*" | "/" | "%" => 60,
            "+" | "-" | "&" => 50,
            "=" | "!=" | "<" | "<=" | ">" | ">=" | "^" | "~>" | "?:" | "??" | "in" => 40,
            "and" => 30,
            "or" => 25,
            "?" => 20,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Op(op) => op.to_string(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Num(n) => n.to_string(),
        Tok::Name(n) => n.clone(),
        Tok::Var(v) => format!("${v}"),
        Tok::Bool(b) => b.to_string(),
        Tok::Null => "null".into(),
        Tok::Regex { pattern, .. } => format!("/{pattern}/"),
        Tok::End => "(end)".into(),
    }
}

pub(crate) fn parse(src: &str) -> Result<Raw, JsonataError> {
    let mut lexer = Lexer::new(src);
    let node = lexer.next(false)?;
    let mut p = Parser { lexer, node, src, nesting: 0 };
    let expr = p.expression(0)?;
    if p.node.tok != Tok::End {
        return Err(JsonataError::new("S0201", format!("Syntax error: {}", describe(&p.node.tok))).at(p.node.start));
    }
    Ok(expr)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The lookahead token.
    node: Token,
    src: &'a str,
    /// Current recursion depth of `expression`.
    nesting: u32,
}

impl Parser<'_> {
    fn is(&self, op: &str) -> bool {
        matches!(self.node.tok, Tok::Op(o) if o == op)
    }

    /// Consumes the lookahead (checking it is `expect`, if given) and lexes
    /// the next one; `infix`: an operator is expected next.
    fn advance(&mut self, expect: Option<&str>, infix: bool) -> Result<Token, JsonataError> {
        if let Some(want) = expect {
            if !self.is(want) {
                let (code, msg) = if self.node.tok == Tok::End {
                    ("S0203", format!("Expected \"{want}\" before end of expression"))
                } else {
                    ("S0202", format!("Expected \"{want}\", got \"{}\"", describe(&self.node.tok)))
                };
                return Err(JsonataError::new(code, msg).at(self.node.start));
            }
        }
        let next = self.lexer.next(infix)?;
        Ok(std::mem::replace(&mut self.node, next))
    }

    fn expression(&mut self, rbp: u32) -> Result<Raw, JsonataError> {
        self.nesting += 1;
        if self.nesting > MAX_AST_DEPTH {
            return Err(too_deep(self.node.start));
        }
        let t = self.advance(None, true)?;
        let mut left = self.nud(t)?;
        while rbp < lbp(&self.node.tok) {
            let t = self.advance(None, false)?;
            left = self.led(t, left)?;
        }
        self.nesting -= 1;
        Ok(left)
    }

    fn nud(&mut self, t: Token) -> Result<Raw, JsonataError> {
        let pos = t.start;
        let kind = match t.tok {
            Tok::Name(n) => RawKind::Name(n),
            Tok::Str(s) => RawKind::Str(s),
            Tok::Num(n) => RawKind::Num(n),
            Tok::Bool(b) => RawKind::Bool(b),
            Tok::Null => RawKind::Null,
            Tok::Var(v) => RawKind::Var(v),
            Tok::Regex { pattern, flags } => RawKind::Regex(compile_regex(&pattern, &flags).map_err(|e| e.at(pos))?),
            Tok::End => return Err(JsonataError::new("S0207", "Unexpected end of expression").at(pos)),
            Tok::Op(op) => match op {
                "and" | "or" | "in" => RawKind::OpName(op),
                "-" => RawKind::Neg(Box::new(self.expression(70)?)),
                "*" => RawKind::Wildcard,
                "**" => RawKind::Descendant,
                "(" => {
                    let mut exprs = Vec::new();
                    while !self.is(")") {
                        exprs.push(self.expression(0)?);
                        if !self.is(";") {
                            break;
                        }
                        self.advance(Some(";"), false)?;
                    }
                    self.advance(Some(")"), true)?;
                    RawKind::Block(exprs)
                }
                "[" => {
                    let mut items = Vec::new();
                    if !self.is("]") {
                        loop {
                            let mut item = self.expression(0)?;
                            if self.is("..") {
                                let rpos = self.node.start;
                                self.advance(Some(".."), false)?;
                                let rhs = self.expression(0)?;
                                item = Raw::new(RawKind::Binary { op: "..", lhs: Box::new(item), rhs: Box::new(rhs) }, rpos)?;
                            }
                            items.push(item);
                            if !self.is(",") {
                                break;
                            }
                            self.advance(Some(","), false)?;
                        }
                    }
                    self.advance(Some("]"), true)?;
                    RawKind::Array(items)
                }
                "{" => RawKind::Object(self.object_pairs()?),
                "%" | "|" | "@" | "#" => return Err(JsonataError::new("S0216", format!("The {op} operator is not supported")).at(pos)),
                _ => return Err(JsonataError::new("S0211", format!("The symbol {op} cannot be used as a unary operator")).at(pos)),
            },
        };
        Raw::new(kind, pos)
    }

    /// `k: v, ...}` after a `{`.
    fn object_pairs(&mut self) -> Result<Vec<(Raw, Raw)>, JsonataError> {
        let mut pairs = Vec::new();
        if !self.is("}") {
            loop {
                let k = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let v = self.expression(0)?;
                pairs.push((k, v));
                if !self.is(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        Ok(pairs)
    }

    fn led(&mut self, t: Token, left: Raw) -> Result<Raw, JsonataError> {
        let pos = t.start;
        let Tok::Op(op) = t.tok else {
            return Err(JsonataError::new("S0201", format!("Syntax error: {}", describe(&t.tok))).at(pos));
        };
        let kind = match op {
            "(" => return self.call(left, pos),
            "[" => {
                if self.is("]") {
                    // `a[]`: keep singleton arrays; flags the step under any predicates.
                    let mut left = left;
                    let mut step = &mut left;
                    while let RawKind::Predicate { lhs, .. } = &mut step.kind {
                        step = lhs;
                    }
                    step.keep_array = true;
                    self.advance(Some("]"), true)?;
                    return Ok(left);
                }
                let rhs = self.expression(0)?;
                self.advance(Some("]"), true)?;
                RawKind::Predicate { lhs: Box::new(left), rhs: Box::new(rhs) }
            }
            "{" => RawKind::GroupBy { lhs: Box::new(left), pairs: self.object_pairs()? },
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.is(":") {
                    self.advance(Some(":"), false)?;
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                RawKind::Condition { cond: Box::new(left), then: Box::new(then), otherwise }
            }
            "?:" => RawKind::Elvis { lhs: Box::new(left), rhs: Box::new(self.expression(0)?) },
            "??" => RawKind::Coalesce { lhs: Box::new(left), rhs: Box::new(self.expression(0)?) },
            "^" => {
                self.advance(Some("("), false)?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.is("<") {
                        self.advance(Some("<"), false)?;
                    } else if self.is(">") {
                        descending = true;
                        self.advance(Some(">"), false)?;
                    }
                    terms.push((self.expression(0)?, descending));
                    if !self.is(",") {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), true)?;
                RawKind::SortBy { lhs: Box::new(left), terms }
            }
            ":=" => {
                if !matches!(left.kind, RawKind::Var(_)) {
                    return Err(JsonataError::new("S0212", "The left side of := must be a variable name (start with $)").at(left.pos));
                }
                RawKind::Binary { op, lhs: Box::new(left), rhs: Box::new(self.expression(9)?) }
            }
            "@" | "#" => return Err(JsonataError::new("S0216", format!("The {op} operator is not supported")).at(pos)),
            _ => {
                let rhs = self.expression(lbp(&Tok::Op(op)))?;
                RawKind::Binary { op, lhs: Box::new(left), rhs: Box::new(rhs) }
            }
        };
        Raw::new(kind, pos)
    }

    /// `left(args)`: a call, a partial application or a lambda definition.
    fn call(&mut self, left: Raw, pos: usize) -> Result<Raw, JsonataError> {
        let mut args = Vec::new();
        let mut partial = false;
        if !self.is(")") {
            loop {
                if self.is("?") {
                    partial = true;
                    let t = self.advance(Some("?"), false)?;
                    args.push(Raw::new(RawKind::Placeholder, t.start)?);
                } else {
                    args.push(self.expression(0)?);
                }
                if !self.is(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        let is_lambda = matches!(&left.kind, RawKind::Name(n) if n == "function" || n == "λ");
        if !is_lambda {
            return Raw::new(RawKind::Call { proc: Box::new(left), args, partial }, pos);
        }
        let mut params = Vec::new();
        for a in args {
            match a.kind {
                RawKind::Var(v) => params.push(v),
                _ => {
                    return Err(
                        JsonataError::new("S0208", "Parameter of a function definition must be a variable name (start with $)").at(a.pos)
                    )
                }
            }
        }
        let mut signature = None;
        if self.is("<") {
            let start = self.node.start;
            let mut depth = 0;
            let mut end;
            loop {
                match &self.node.tok {
                    Tok::Op("<") => depth += 1,
                    Tok::Op(">") => depth -= 1,
                    Tok::Op("{") | Tok::End => return Err(JsonataError::new("S0401", "Unterminated function signature").at(start)),
                    _ => {}
                }
                end = self.node.end;
                self.advance(None, false)?;
                if depth == 0 {
                    break;
                }
            }
            signature = Some(Signature::parse(&self.src[start..end]).map_err(|e| e.at(start))?);
        }
        self.advance(Some("{"), false)?;
        let body = self.expression(0)?;
        self.advance(Some("}"), true)?;
        Raw::new(RawKind::Lambda { params, signature, body: Box::new(body) }, pos)
    }
}

/// Compiles a `/pattern/flags` literal with the `regex` crate (linear time:
/// no backtracking blow-up on hostile input). JavaScript-only syntax such as
/// look-around or back-references is rejected here, at parse time.
fn compile_regex(pattern: &str, flags: &str) -> Result<regex::Regex, JsonataError> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .size_limit(MAX_REGEX_SIZE)
        .build()
        .map_err(|e| {
            let first = e.to_string().lines().last().unwrap_or("invalid").trim().to_string();
            JsonataError::new("S0303", format!("Regular expression /{pattern}/ is not supported: {first}"))
        })
}
