//! ASL intrinsic functions: the `States.*` calls that may appear as the value
//! of a `.$` field in `Parameters`, `ResultSelector` (and a Task's
//! `Credentials`), for example `States.Format('{} {}', $.a, States.Array(1, 2))`.
//!
//! [`Intrinsic::parse`] turns the text into a tree once, when the definition is
//! loaded, and reports what can be known statically (unknown function, wrong
//! argument count, a `States.Format` literal template whose `{}` count does not
//! match, bad escapes, unbalanced parentheses, trailing text) as an
//! [`IntrinsicSyntaxError`]. [`Intrinsic::evaluate`] runs it against the state's
//! data (`$`) and the context object (`$$`); its `Err` is the cause of the
//! `States.IntrinsicFailure` AWS would raise.
//!
//! All 18 functions of the AWS Step Functions developer guide are supported:
//! `Format`, `StringToJson`, `JsonToString`, `Array`, `ArrayPartition`,
//! `ArrayContains`, `ArrayRange`, `ArrayGetItem`, `ArrayLength`, `ArrayUnique`,
//! `Base64Encode`, `Base64Decode`, `Hash`, `JsonMerge`, `MathRandom`, `MathAdd`,
//! `StringSplit` and `UUID`. Arguments are single-quoted strings (escapes `\'`,
//! `\{`, `\}`, `\\`), JSON numbers, `true`, `false`, `null`, JSONPaths (`$...`,
//! `$$...`, `$name...`, resolved by [`super::path`]) and nested calls.
//!
//! A path argument is read the way AWS reads it, when the call is evaluated
//! (AWS hands it to Jayway then; its failures surface in recorded executions
//! as `States.Runtime` with the cause "The function '<call>' had the
//! following error: The JsonPath argument for the field '<path>' could not
//! be found in the input '<input>'"): a path that selects nothing, or that is
//! not a valid JSONPath at all (`$.a[`), fails the state with
//! `States.Runtime`, not `States.IntrinsicFailure` ([`IntrinsicError::Runtime`]).
//!
//! Where AWS's behaviour is documented or was observed (recorded executions),
//! it is followed: non-integer numbers are rounded half up like Java's
//! `Math.round`; `States.Format` renders strings raw, scalars as JSON and
//! objects/arrays the way Java prints maps and lists (`{a=1, b=[x, y]}`);
//! `States.JsonToString` is compact; `States.StringToJson('')` is `null`.
//! Known deviations / guesses, each marked where it is implemented:
//! - nesting is capped at 10 levels of calls (AWS documents "up to 10
//!   nested"; whether it counts depth or calls is not stated);
//! - a bad escape (`\n`, a lone `\`) is a syntax error here, found when the
//!   definition is loaded; AWS documents it as a runtime error;
//! - `States.JsonToString` accepts any argument, not only a path;
//! - in a literal, a lone unescaped `{` or `}` is kept as text (only `{}` is a
//!   `States.Format` placeholder);
//! - `States.Base64Encode` does not wrap long output in 76-character MIME lines;
//! - `States.MathRandom` uses the `java.util.Random` algorithm
//!   (`stepwasm_jsonata::random`), so a seed is deterministic, but whether AWS
//!   gives the same numbers for it is unknown;
//! - values are compared by numeric value (`1` equals `1.0`) in
//!   `States.ArrayContains` / `States.ArrayUnique`.

use super::path::{Bindings, Path, PathLimitError, PathLimits, Root, PATH_LIMITS};
use super::size::{self, OverBudget, SizeBudget};
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use stepwasm_jsonata::digest::{HashAlgorithm, UnknownHashAlgorithm};
use stepwasm_jsonata::random::{self, JavaRandom};

/// How deeply calls may nest (the outermost call is level 1), as AWS documents.
const MAX_NESTING: usize = 10;
/// The input limit of `Base64Encode`, `Base64Decode` and `Hash`, in characters.
const MAX_INPUT_CHARS: usize = 10_000;
/// The most elements `States.ArrayRange` may produce.
const MAX_RANGE_ITEMS: i128 = 1000;

/// Why the text of an intrinsic call is not valid: what is wrong and where (a byte offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntrinsicSyntaxError(pub String);

/// A parsed intrinsic call, e.g. `States.Format('{} {}', $.a, States.Array(1, 2))`.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    func: Func,
    args: Vec<Arg>,
    /// The call as written (AWS's causes quote the whole expression).
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A quoted literal. `pieces` is the text split at each *unescaped* `{}`:
    /// the holes `States.Format` fills when this is its template.
    Str {
        value: String,
        pieces: Vec<String>,
    },
    Number(Number),
    Bool(bool),
    Null,
    Path(Path),
    /// A path argument that is no valid JSONPath: kept, and failing with
    /// `States.Runtime` when evaluated, as on AWS.
    InvalidPath {
        text: String,
        reason: String,
    },
    Call(Intrinsic),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    const ALL: [Func; 18] = [
        Func::Format,
        Func::StringToJson,
        Func::JsonToString,
        Func::Array,
        Func::ArrayPartition,
        Func::ArrayContains,
        Func::ArrayRange,
        Func::ArrayGetItem,
        Func::ArrayLength,
        Func::ArrayUnique,
        Func::Base64Encode,
        Func::Base64Decode,
        Func::Hash,
        Func::JsonMerge,
        Func::MathRandom,
        Func::MathAdd,
        Func::StringSplit,
        Func::Uuid,
    ];

    fn name(self) -> &'static str {
        match self {
            Func::Format => "States.Format",
            Func::StringToJson => "States.StringToJson",
            Func::JsonToString => "States.JsonToString",
            Func::Array => "States.Array",
            Func::ArrayPartition => "States.ArrayPartition",
            Func::ArrayContains => "States.ArrayContains",
            Func::ArrayRange => "States.ArrayRange",
            Func::ArrayGetItem => "States.ArrayGetItem",
            Func::ArrayLength => "States.ArrayLength",
            Func::ArrayUnique => "States.ArrayUnique",
            Func::Base64Encode => "States.Base64Encode",
            Func::Base64Decode => "States.Base64Decode",
            Func::Hash => "States.Hash",
            Func::JsonMerge => "States.JsonMerge",
            Func::MathRandom => "States.MathRandom",
            Func::MathAdd => "States.MathAdd",
            Func::StringSplit => "States.StringSplit",
            Func::Uuid => "States.UUID",
        }
    }

    /// Fewest and most arguments (`None`: no maximum).
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson | Func::JsonToString | Func::ArrayLength | Func::ArrayUnique | Func::Base64Encode | Func::Base64Decode => {
                (1, Some(1))
            }
            Func::ArrayPartition | Func::ArrayContains | Func::ArrayGetItem | Func::Hash | Func::MathAdd | Func::StringSplit => {
                (2, Some(2))
            }
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
            Func::MathRandom => (2, Some(3)),
        }
    }
}

impl Intrinsic {
    /// Parses the text of a `.$` field value that starts with "States.".
    pub fn parse(text: &str) -> Result<Intrinsic, IntrinsicSyntaxError> {
        let mut p = Parser { text, pos: 0 };
        p.skip_ws();
        let call = p.call(1)?;
        p.skip_ws();
        if p.pos < text.len() {
            return p.err(p.pos, format!("unexpected text {:?} after the closing )", p.rest()));
        }
        Ok(call)
    }

    /// The call as written, e.g. `"States.Format('{}', $.a)"`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The called function's full name, e.g. `"States.Format"`.
    pub fn function_name(&self) -> &'static str {
        self.func.name()
    }

    /// True when any path argument (at any nesting depth) starts with `$$` (the context object).
    pub fn uses_context(&self) -> bool {
        self.args.iter().any(|arg| match arg {
            Arg::Path(path) => path.root() == Root::Context,
            Arg::Call(call) => call.uses_context(),
            _ => false,
        })
    }

    /// Evaluates the call: `data` is what `$` paths read, `context` what `$$`
    /// paths read; no variables are in scope.
    pub fn evaluate(&self, data: &Value, context: &Value) -> Result<Value, String> {
        self.evaluate_with(data, &Bindings::context_only(context))
    }

    /// Evaluates the call: `$` paths read `data`, `$$` paths the context
    /// object, `$name` paths a variable. `Err` holds the cause of a
    /// `States.IntrinsicFailure` (or of the size cap, [`MAX_BUILD_BYTES`]).
    pub fn evaluate_with(&self, data: &Value, context: &Bindings) -> Result<Value, String> {
        self.evaluate_within(data, context, &mut SizeBudget::new(MAX_BUILD_BYTES)).map_err(|e| match e {
            IntrinsicError::Failure(cause) | IntrinsicError::Runtime(cause) | IntrinsicError::TooBig(cause) => cause,
        })
    }

    /// [`Intrinsic::evaluate_with`] counting what it builds against
    /// `budget`: each argument as it is made (a path's selection is measured
    /// before it is copied), then what the function makes while it makes it;
    /// once the function has consumed its arguments only its result stays
    /// counted.
    pub fn evaluate_within(&self, data: &Value, context: &Bindings, budget: &mut SizeBudget) -> Result<Value, IntrinsicError> {
        stepwasm_jsonata::evaluation_budget::check().map_err(|e| IntrinsicError::Failure(e.to_string()))?;
        let f = self.func;
        let mark = budget.used();
        let mut values = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            values.push(arg.value(f, data, context, budget)?);
        }
        let result = self.apply(values, budget)?;
        budget.release_to(mark);
        budget.charge_value(&result).map_err(|e| too_big(f, e))?;
        Ok(result)
    }

    fn apply(&self, values: Vec<Value>, budget: &mut SizeBudget) -> Result<Value, IntrinsicError> {
        let f = self.func;
        Ok(match f {
            Func::Format => self.format(values, budget)?,
            Func::StringToJson => string_to_json(values)?,
            Func::JsonToString => {
                // AWS documents a path argument; any value is accepted here.
                let [v] = fixed(f, values)?;
                // Escapes can make the text longer than what the argument was counted as.
                let len = size::json_size_within(&v, budget.remaining()).ok_or(too_big(f, OverBudget { limit: budget.limit() }))?;
                budget.check(len).map_err(|e| too_big(f, e))?;
                Value::String(serde_json::to_string(&v).map_err(|e| format!("{}: {e}", f.name()))?)
            }
            Func::Array => Value::Array(values),
            Func::ArrayPartition => array_partition(values, budget)?,
            Func::ArrayContains => {
                let [array, needle] = fixed(f, values)?;
                let array = as_array(f, "the first argument", array)?;
                let key = canonical_key(&needle);
                Value::Bool(array.iter().any(|item| canonical_key(item) == key))
            }
            Func::ArrayRange => array_range(values)?,
            Func::ArrayGetItem => array_get_item(values)?,
            Func::ArrayLength => {
                let [array] = fixed(f, values)?;
                Value::from(as_array(f, "the argument", array)?.len())
            }
            Func::ArrayUnique => {
                let [array] = fixed(f, values)?;
                let mut seen = HashSet::new();
                let unique = as_array(f, "the argument", array)?.into_iter().filter(|v| seen.insert(canonical_key(v)));
                Value::Array(unique.collect())
            }
            Func::Base64Encode => {
                let [input] = fixed(f, values)?;
                let input = limited_string(f, "the input", input)?;
                // Standard alphabet, padded, one line: whether AWS wraps long
                // output in 76-character MIME lines is unknown.
                Value::String(base64::engine::general_purpose::STANDARD.encode(input.as_bytes()))
            }
            Func::Base64Decode => base64_decode(values)?,
            Func::Hash => hash(values)?,
            Func::JsonMerge => json_merge(values)?,
            Func::MathRandom => math_random(values)?,
            Func::MathAdd => math_add(values)?,
            Func::StringSplit => {
                let [input, delimiters] = fixed(f, values)?;
                let input = as_string(f, "the first argument", input)?;
                let delimiters = as_string(f, "the delimiter (second argument)", delimiters)?;
                // Every character of the second argument is a delimiter, and empty
                // tokens are dropped, as java.util.StringTokenizer does (AWS's
                // "This.is+a,test=string" / ".+,=" example); dropping empties is assumed.
                let mut parts = Vec::new();
                // `[]`, then each part's text and a comma, counted as they are made.
                let mut bytes = 2;
                for part in input.split(|c| delimiters.contains(c)).filter(|s| !s.is_empty()) {
                    bytes += size::string_len(part) + 1;
                    budget.check(bytes).map_err(|e| too_big(f, e))?;
                    parts.push(Value::String(part.to_string()));
                }
                Value::Array(parts)
            }
            Func::Uuid => Value::String(random::uuid_v4()),
        })
    }

    fn format(&self, values: Vec<Value>, budget: &SizeBudget) -> Result<Value, IntrinsicError> {
        let f = Func::Format;
        let mut values = values.into_iter();
        let template = values.next().ok_or_else(|| format!("{}: missing the template argument", f.name()))?;
        let fill: Vec<Value> = values.collect();
        // A literal template was split at its unescaped `{}` by the parser (an
        // escaped `\{}` stays text); a template read from a path or returned by
        // a call has no escapes, so every `{}` in it is a hole.
        let pieces: Vec<String> = match (self.args.first(), template) {
            (Some(Arg::Str { pieces, .. }), _) => pieces.clone(),
            (_, Value::String(s)) => s.split("{}").map(str::to_string).collect(),
            (_, other) => return Err(format!("{}: the template (first argument) must be a string, got {}", f.name(), kind(&other)).into()),
        };
        let holes = pieces.len().saturating_sub(1);
        if holes != fill.len() {
            return Err(format!("{}: the template has {holes} {{}} placeholder(s) but {} value(s) follow it", f.name(), fill.len()).into());
        }
        // The text is checked against what is left as it grows (its JSON
        // escapes are counted with the result).
        let limit = budget.remaining();
        let over = || too_big(f, OverBudget { limit: budget.limit() });
        let mut out = String::new();
        for (i, piece) in pieces.iter().enumerate() {
            out.push_str(piece);
            if let Some(value) = fill.get(i) {
                render(value, &mut out, limit, 0).map_err(|()| over())?;
            }
            if out.len() > limit {
                return Err(over());
            }
        }
        Ok(Value::String(out))
    }
}

/// The most one intrinsic call evaluated on its own (outside a template,
/// which has its own budget) may build: as a template, 1 MiB.
pub const MAX_BUILD_BYTES: usize = super::template::MAX_RENDER_BYTES;

/// Why an intrinsic call failed: a misuse (`States.IntrinsicFailure`), or
/// what it builds would pass its size budget (`States.DataLimitExceeded`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntrinsicError {
    #[error("{0}")]
    Failure(String),
    /// A path argument selected nothing or is no valid JSONPath: AWS's
    /// `States.Runtime` (the cause says which argument and why).
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    TooBig(String),
}

impl From<String> for IntrinsicError {
    fn from(cause: String) -> IntrinsicError {
        IntrinsicError::Failure(cause)
    }
}

fn too_big(f: Func, e: OverBudget) -> IntrinsicError {
    IntrinsicError::TooBig(format!("{}: {e} (the limit on what one evaluation builds)", f.name()))
}

impl Arg {
    fn value(&self, f: Func, data: &Value, context: &Bindings, budget: &mut SizeBudget) -> Result<Value, IntrinsicError> {
        let value = match self {
            Arg::Str { value, .. } => Value::String(value.clone()),
            Arg::Number(n) => Value::Number(n.clone()),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Null => Value::Null,
            Arg::Path(path) => {
                let limits = PathLimits { max_bytes: budget.remaining().min(PATH_LIMITS.max_bytes), ..PATH_LIMITS };
                return match path.resolve_within(data, context, &limits) {
                    Ok(Some((value, bytes))) => {
                        budget.charge(bytes).map_err(|e| too_big(f, e))?;
                        Ok(value)
                    }
                    Ok(None) => Err(IntrinsicError::Runtime(format!(
                        "The JsonPath argument for the field '{path}' could not be found in the input '{}'",
                        input_excerpt(data)
                    ))),
                    Err(PathLimitError::Bytes { .. }) if limits.max_bytes < PATH_LIMITS.max_bytes => {
                        Err(too_big(f, OverBudget { limit: budget.limit() }))
                    }
                    Err(e) => Err(format!("{}: {e}", f.name()).into()),
                };
            }
            Arg::InvalidPath { text, reason } => {
                return Err(IntrinsicError::Runtime(format!("The JsonPath argument '{text}' is not a valid JSONPath: {reason}")))
            }
            Arg::Call(call) => return call.evaluate_within(data, context, budget),
        };
        budget.charge_value(&value).map_err(|e| too_big(f, e))?;
        Ok(value)
    }
}

// ---------------------------------------------------------------------------
// Parsing

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, at: usize, message: impl AsRef<str>) -> Result<T, IntrinsicSyntaxError> {
        Err(IntrinsicSyntaxError(format!("invalid intrinsic function call: {} (at offset {at})", message.as_ref())))
    }

    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    /// `States.Name(arg, ...)`; `depth` is this call's nesting level.
    fn call(&mut self, depth: usize) -> Result<Intrinsic, IntrinsicSyntaxError> {
        let start = self.pos;
        if depth > MAX_NESTING {
            return self.err(start, format!("intrinsic functions can be nested at most {MAX_NESTING} deep"));
        }
        if !self.rest().starts_with("States.") {
            return self.err(start, "expected an intrinsic function (States.Name(...))");
        }
        self.pos += "States.".len();
        let name_len = self.rest().bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &self.rest()[..name_len];
        let Some(func) = Func::ALL.into_iter().find(|f| f.name().strip_prefix("States.") == Some(name)) else {
            return self.err(start, format!("unknown intrinsic function States.{name}"));
        };
        self.pos += name_len;
        if !self.eat('(') {
            return self.err(self.pos, format!("expected ( after {}", func.name()));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                args.push(self.arg(depth)?);
                self.skip_ws();
                if self.eat(',') {
                    continue;
                }
                if self.eat(')') {
                    break;
                }
                return match self.peek() {
                    None => self.err(self.pos, format!("missing ) to close the {} opened at offset {start}", func.name())),
                    Some(c) => self.err(self.pos, format!("unexpected {c:?} in the arguments of {}; expected , or )", func.name())),
                };
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || max.is_some_and(|max| args.len() > max) {
            let expected = match max {
                None => format!("at least {min}"),
                Some(max) if max == min => min.to_string(),
                Some(max) => format!("{min} to {max}"),
            };
            let s = if max.unwrap_or(min) == 1 { "" } else { "s" };
            return self.err(start, format!("{} takes {expected} argument{s}, got {}", func.name(), args.len()));
        }
        if let (Func::Format, Some(Arg::Str { pieces, .. })) = (func, args.first()) {
            let holes = pieces.len().saturating_sub(1);
            if holes != args.len() - 1 {
                return self.err(
                    start,
                    format!("the States.Format template has {holes} {{}} placeholder(s) but {} argument(s) follow it", args.len() - 1),
                );
            }
        }
        Ok(Intrinsic { func, args, text: self.text[start..self.pos].to_string() })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicSyntaxError> {
        match self.peek() {
            None => self.err(self.pos, "expected an argument, found the end of the text"),
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some('S') if self.rest().starts_with("States.") => Ok(Arg::Call(self.call(depth + 1)?)),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let word_len = self.rest().bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
                let word = &self.rest()[..word_len];
                let arg = match word {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "null" => Arg::Null,
                    _ => {
                        return self.err(
                            start,
                            format!(
                                "unexpected {word:?}: an argument is a 'string', a number, true, false, null, a path or States.Name(...)"
                            ),
                        )
                    }
                };
                self.pos += word_len;
                Ok(arg)
            }
            Some(c) => self.err(self.pos, format!("unexpected {c:?} where an argument was expected")),
        }
    }

    /// A single-quoted literal with AWS's four escapes.
    fn string(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let open = self.pos;
        let body = open + 1;
        let mut value = String::new();
        let mut pieces = Vec::new();
        let mut piece = String::new();
        let mut chars = self.text.get(body..).unwrap_or("").char_indices().peekable();
        loop {
            match chars.next() {
                None => return self.err(open, "unterminated string literal"),
                Some((i, '\'')) => {
                    self.pos = body + i + 1;
                    break;
                }
                Some((i, '\\')) => match chars.next() {
                    Some((_, c @ ('\'' | '{' | '}' | '\\'))) => {
                        value.push(c);
                        piece.push(c);
                    }
                    Some((_, c)) => return self.err(body + i, format!("invalid escape \\{c} (only \\', \\{{, \\}} and \\\\ are allowed)")),
                    None => return self.err(body + i, "unterminated escape sequence"),
                },
                // An unescaped `{}` is a States.Format placeholder. A lone
                // unescaped brace is kept as text (AWS accepts literals such as
                // '{"a": 1}' given to States.StringToJson).
                Some((_, '{')) if matches!(chars.peek(), Some((_, '}'))) => {
                    chars.next();
                    value.push_str("{}");
                    pieces.push(std::mem::take(&mut piece));
                }
                Some((_, c)) => {
                    value.push(c);
                    piece.push(c);
                }
            }
        }
        pieces.push(piece);
        Ok(Arg::Str { value, pieces })
    }

    /// A JSONPath: runs to the first `,`, `)` or whitespace outside brackets and quotes.
    fn path(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let mut end = self.text.len();
        let mut brackets = 0usize;
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for (i, c) in self.rest().char_indices() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                '\'' | '"' if brackets > 0 => quote = Some(c),
                ',' | ')' if brackets == 0 => {
                    end = start + i;
                    break;
                }
                c if c.is_whitespace() && brackets == 0 => {
                    end = start + i;
                    break;
                }
                _ => {}
            }
        }
        if end == self.text.len() && (brackets > 0 || quote.is_some()) {
            // An unclosed `[` or quote: the path ends at the next `,` or `)`
            // all the same, and is an invalid path argument, not a call
            // missing its `)`.
            end = self.rest().find([',', ')']).map_or(self.text.len(), |i| start + i);
        }
        let text = &self.text[start..end];
        self.pos = end;
        Ok(match Path::parse(text) {
            Ok(path) => Arg::Path(path),
            Err(e) => Arg::InvalidPath { text: text.to_string(), reason: e.reason },
        })
    }

    /// A JSON number. An integer literal stays an integer (`-0` is `0`).
    fn number(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let len = self.rest().bytes().take_while(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')).count();
        let token = &self.rest()[..len];
        let Ok(number) = serde_json::from_str::<Number>(token) else {
            return self.err(start, format!("invalid number {token:?}"));
        };
        let number = if number.as_f64() == Some(0.0) && !token.contains(['.', 'e', 'E']) { Number::from(0) } else { number };
        self.pos += len;
        Ok(Arg::Number(number))
    }
}

/// The input as AWS's causes quote it: its JSON text, cut after 1,000
/// characters so that a cause stays short.
fn input_excerpt(data: &Value) -> String {
    const MAX_CHARS: usize = 1000;
    let text = data.to_string();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

// ---------------------------------------------------------------------------
// The functions that need more than a few lines

fn string_to_json(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::StringToJson;
    let [input] = fixed(f, values)?;
    let input = as_string(f, "the argument", input)?;
    // AWS returns null for an empty or blank string (recorded executions).
    if input.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&input).map_err(|e| format!("{}: the string is not valid JSON: {e}", f.name()))
}

fn array_partition(values: Vec<Value>, budget: &SizeBudget) -> Result<Value, IntrinsicError> {
    let f = Func::ArrayPartition;
    let [array, size] = fixed(f, values)?;
    let array = as_array(f, "the first argument", array)?;
    let size = int_arg(f, "the chunk size", &size)?;
    if size <= 0 {
        return Err(format!("{}: the chunk size must be a positive integer, got {size}", f.name()).into());
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    // The items move into their chunks; only each chunk's `[]` and comma is new.
    let chunks = array.len().div_ceil(size);
    budget.check(chunks.saturating_mul(3)).map_err(|e| too_big(f, e))?;
    let mut items = array.into_iter();
    let mut out = Vec::with_capacity(chunks);
    for _ in 0..chunks {
        out.push(Value::Array(items.by_ref().take(size).collect()));
    }
    Ok(Value::Array(out))
}

fn array_range(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::ArrayRange;
    let [start, end, step] = fixed(f, values)?;
    let start = i128::from(int_arg(f, "the start", &start)?);
    let end = i128::from(int_arg(f, "the end", &end)?);
    let step = i128::from(int_arg(f, "the step", &step)?);
    if step == 0 {
        return Err(format!("{}: the step must not be 0", f.name()));
    }
    // Both ends are included when the step lands on the end. A step that
    // points away from the end gives an empty array (undocumented; assumed).
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) { (end - start) / step + 1 } else { 0 };
    if count > MAX_RANGE_ITEMS {
        return Err(format!("{}: the range would have {count} elements; at most {MAX_RANGE_ITEMS} are allowed", f.name()));
    }
    let items = (0..count).filter_map(|k| i64::try_from(start + k * step).ok()).map(Value::from);
    Ok(Value::Array(items.collect()))
}

fn array_get_item(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::ArrayGetItem;
    let [array, index] = fixed(f, values)?;
    let array = as_array(f, "the first argument", array)?;
    // The index is rounded like the other integer arguments (undocumented; assumed).
    let index = int_arg(f, "the index", &index)?;
    let len = array.len();
    usize::try_from(index)
        .ok()
        .and_then(|i| array.into_iter().nth(i))
        .ok_or_else(|| format!("{}: index {index} is out of bounds for an array of {len}", f.name()))
}

fn base64_decode(values: Vec<Value>) -> Result<Value, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let f = Func::Base64Decode;
    let [input] = fixed(f, values)?;
    let input = limited_string(f, "the input", input)?;
    // AWS decodes "MIME" base64 (line breaks allowed) and accepts missing
    // padding (observed); other characters outside the alphabet are rejected here.
    let compact: String = input.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent).with_decode_allow_trailing_bits(true);
    let bytes = GeneralPurpose::new(&base64::alphabet::STANDARD, config)
        .decode(compact.as_bytes())
        .map_err(|e| format!("{}: the input is not valid base64: {e}", f.name()))?;
    // Bytes that are not UTF-8 become U+FFFD, as Java's String(bytes, UTF_8) does (assumed).
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

fn hash(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::Hash;
    let [data, algorithm] = fixed(f, values)?;
    let data = limited_string(f, "the data", data)?;
    let algorithm = as_string(f, "the algorithm (second argument)", algorithm)?;
    let algorithm = algorithm.parse::<HashAlgorithm>().map_err(|UnknownHashAlgorithm(other)| {
        format!("{}: unknown algorithm {other:?}; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", f.name())
    })?;
    Ok(Value::String(algorithm.hex_digest(&data)))
}

fn json_merge(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::JsonMerge;
    let [first, second, deep] = fixed(f, values)?;
    let mut merged = as_object(f, "the first argument", first)?;
    let second = as_object(f, "the second argument", second)?;
    match deep {
        Value::Bool(false) => {}
        Value::Bool(true) => return Err(format!("{}: deep merging is not supported; the third argument must be false", f.name())),
        other => return Err(format!("{}: the third argument must be the boolean false, got {}", f.name(), kind(&other))),
    }
    // Shallow: a key of the second object replaces the first's value whole.
    for (key, value) in second {
        merged.insert(key, value);
    }
    Ok(Value::Object(merged))
}

fn math_random(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::MathRandom;
    let mut values = values.into_iter();
    let (Some(start), Some(end), seed, None) = (values.next(), values.next(), values.next(), values.next()) else {
        return Err(format!("{}: expected 2 or 3 arguments", f.name()));
    };
    let start = int_arg(f, "the start", &start)?;
    let end = int_arg(f, "the end", &end)?;
    if start >= end {
        return Err(format!("{}: the start ({start}) must be less than the end ({end})", f.name()));
    }
    let mut generator = match seed {
        Some(seed) => JavaRandom::new(int_arg(f, "the seed", &seed)?),
        None => JavaRandom::from_entropy(),
    };
    let offset = generator.below(end.abs_diff(start));
    let value = i64::try_from(i128::from(start) + i128::from(offset)).map_err(|_| format!("{}: the result is out of range", f.name()))?;
    Ok(Value::from(value))
}

fn math_add(values: Vec<Value>) -> Result<Value, String> {
    let f = Func::MathAdd;
    let [a, b] = fixed(f, values)?;
    let in_range = |what: &str, v: &Value| -> Result<i32, String> {
        let n = int_arg(f, what, v)?;
        i32::try_from(n).map_err(|_| format!("{}: {what} {n} is outside the allowed range -2147483648 to 2147483647", f.name()))
    };
    let sum = i64::from(in_range("the first argument", &a)?) + i64::from(in_range("the second argument", &b)?);
    // AWS limits the operands to 32 bits; a sum outside that range is reported
    // rather than wrapped (undocumented; assumed).
    if i32::try_from(sum).is_err() {
        return Err(format!("{}: the sum {sum} is outside the range -2147483648 to 2147483647", f.name()));
    }
    Ok(Value::from(sum))
}

// ---------------------------------------------------------------------------
// Helpers

/// The evaluated arguments as a fixed-size array (the parser already checked the count).
fn fixed<const N: usize>(f: Func, values: Vec<Value>) -> Result<[Value; N], String> {
    <[Value; N]>::try_from(values).map_err(|v| format!("{}: expected {N} arguments, got {}", f.name(), v.len()))
}

use super::path::describe_kind as kind;

fn as_array(f: Func, what: &str, v: Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(format!("{}: {what} must be an array, got {}", f.name(), kind(&other))),
    }
}

fn as_object(f: Func, what: &str, v: Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(map) => Ok(map),
        other => Err(format!("{}: {what} must be an object, got {}", f.name(), kind(&other))),
    }
}

fn as_string(f: Func, what: &str, v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(format!("{}: {what} must be a string, got {}", f.name(), kind(&other))),
    }
}

/// A string of at most [`MAX_INPUT_CHARS`] characters, counted as Java
/// counts them (UTF-16 units), AWS being a Java service.
fn limited_string(f: Func, what: &str, v: Value) -> Result<String, String> {
    let s = as_string(f, what, v)?;
    let chars = s.encode_utf16().count();
    if chars > MAX_INPUT_CHARS {
        return Err(format!("{}: {what} has {chars} characters; at most {MAX_INPUT_CHARS} are allowed", f.name()));
    }
    Ok(s)
}

/// An integer argument. Non-integers are rounded to the nearest integer, a
/// half going up as with Java's `Math.round` (AWS documents the rounding;
/// recorded executions show `-1.5` becoming `-1`).
fn int_arg(f: Func, what: &str, v: &Value) -> Result<i64, String> {
    let Value::Number(n) = v else {
        return Err(format!("{}: {what} must be an integer, got {}", f.name(), kind(v)));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let too_large = || format!("{}: {what} {n} is too large", f.name());
    let x = match n.as_f64() {
        Some(x) if !n.is_u64() => x,
        _ => return Err(too_large()),
    };
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // 2^63 is exactly representable; `as` would saturate silently past it.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&rounded) {
        Ok(rounded as i64)
    } else {
        Err(too_large())
    }
}

/// How `States.Format` prints a value: strings raw, scalars as JSON, objects
/// and arrays as Java prints maps and lists (`{a=1, b=[x, y]}`), which is
/// what AWS produces (recorded executions). Stops (`Err`) once `out` is
/// longer than `limit` bytes.
fn render(v: &Value, out: &mut String, limit: usize, depth: usize) -> Result<(), ()> {
    if out.len() > limit || depth > size::MAX_VALUE_DEPTH + MAX_NESTING {
        return Err(());
    }
    match v {
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, out, limit, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                render(value, out, limit, depth + 1)?;
            }
            out.push('}');
        }
    }
    if out.len() > limit {
        return Err(());
    }
    Ok(())
}

/// A text that is equal for equal JSON values: object key order is ignored
/// and numbers compare by value (`1`, `1.0` and `-0`/`0` are alike). AWS's
/// Java implementation may tell `1` from `1.0`; treating them alike is assumed.
fn canonical_key(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('n'),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&format!("i{i}"));
            } else if let Some(u) = n.as_u64() {
                out.push_str(&format!("i{u}"));
            } else {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if x.fract() == 0.0 && x.abs() < 1e38 {
                    out.push_str(&format!("i{}", x as i128));
                } else {
                    out.push_str(&format!("f{x:?}"));
                }
            }
        }
        // Length-prefixed, so no content can imitate the structure around it.
        Value::String(s) => out.push_str(&format!("s{}:{s}", s.len())),
        Value::Array(items) => {
            out.push('[');
            for item in items {
                write_canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (key, value) in entries {
                out.push_str(&format!("k{}:{key}", key.len()));
                write_canonical(value, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_with(text: &str, data: Value, context: Value) -> Result<Value, String> {
        Intrinsic::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).evaluate(&data, &context)
    }

    fn ok(text: &str, data: Value) -> Value {
        eval_with(text, data, json!({})).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn fails(text: &str, data: Value) -> String {
        match eval_with(text, data, json!({})) {
            Ok(v) => panic!("{text} should fail, gave {v}"),
            Err(e) => e,
        }
    }

    fn syntax(text: &str) -> String {
        match Intrinsic::parse(text) {
            Ok(v) => panic!("{text} should not parse, gave {v:?}"),
            Err(e) => e.0,
        }
    }

    // --- parser ---

    #[test]
    fn parses_every_argument_kind() {
        let text = "States.Array('a', -12, 3.5, 1e2, -0, true, false, null, $.x, $$.Execution.Id, States.Array())";
        let v = eval_with(text, json!({"x": {"y": 1}}), json!({"Execution": {"Id": "exec-1"}}));
        assert_eq!(v, Ok(json!(["a", -12, 3.5, 100.0, 0, true, false, null, {"y": 1}, "exec-1", []])));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(ok(r"States.Array('it\'s', '\{\}', 'back\\slash')", json!({})), json!(["it's", "{}", "back\\slash"]));
        // Escaped braces are not a placeholder; unescaped lone braces are text.
        assert_eq!(ok(r"States.Format('\{}{}', 1)", json!({})), json!("{}1"));
        assert_eq!(ok("States.Format('{\"k\": \"{}\"}', 'v')", json!({})), json!("{\"k\": \"v\"}"));
        assert_eq!(ok(r#"States.Format('\{"key":"{}"\}', $.v)"#, json!({"v": "test123"})), json!("{\"key\":\"test123\"}"));
        // A raw newline is allowed inside a literal.
        assert_eq!(ok("States.StringSplit('Hello\nWorld', '\n')", json!({})), json!(["Hello", "World"]));
        assert!(syntax(r"States.Array('a\nb')").contains("invalid escape \\n"));
        assert!(syntax("States.Array('abc\\").contains("unterminated escape sequence"));
        assert!(syntax("States.Array('abc)").contains("unterminated string literal (at offset 13)"));
    }

    #[test]
    fn nesting_and_whitespace() {
        let text = " States.Format( '{}-{}' ,\tStates.ArrayGetItem( States.StringSplit($.arn, ':'), 2 ),\n States.MathAdd(1,2) ) ";
        assert_eq!(ok(text, json!({"arn": "arn:aws:states"})), json!("states-3"));
        // AWS's nine-function example (whose template has one {} too many).
        let arn = "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))";
        let data = json!({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123:image-recipe/x/1.2.3"}});
        assert_eq!(ok(arn, data), json!("1.2"));
    }

    #[test]
    fn nesting_is_capped() {
        let nest = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
        assert_eq!(Intrinsic::parse(&nest(10)).map(|_| ()), Ok(()));
        assert!(syntax(&nest(11)).contains("nested at most 10 deep"));
        // Hostile depth fails fast instead of overflowing the stack.
        assert!(syntax(&nest(100_000)).contains("nested at most 10 deep"));
    }

    #[test]
    fn rejects_unknown_functions_and_bad_counts() {
        assert_eq!(
            syntax("States.Frobnicate(1)"),
            "invalid intrinsic function call: unknown intrinsic function States.Frobnicate (at offset 0)"
        );
        assert!(syntax("States.Array(States.Nope())").contains("unknown intrinsic function States.Nope (at offset 13)"));
        assert!(syntax("states.Array()").contains("expected an intrinsic function"));
        assert!(syntax("States.ArrayRange(1, 2)").contains("States.ArrayRange takes 3 arguments, got 2"));
        assert!(syntax("States.UUID(1)").contains("States.UUID takes 0 arguments, got 1"));
        assert!(syntax("States.MathRandom(1)").contains("takes 2 to 3 arguments, got 1"));
        assert!(syntax("States.Format()").contains("takes at least 1 argument, got 0"));
        assert!(syntax("States.ArrayLength()").contains("takes 1 argument, got 0"));
        assert!(syntax("States.Format('{} {}', 1)").contains("template has 2 {} placeholder(s) but 1 argument(s)"));
        assert!(syntax("States.Format('x', 1)").contains("template has 0 {} placeholder(s) but 1 argument(s)"));
    }

    #[test]
    fn rejects_unbalanced_and_trailing_text() {
        assert!(syntax("States.Array(1, 2").contains("missing ) to close the States.Array opened at offset 0"));
        assert!(syntax("States.Array(1 2)").contains("unexpected '2' in the arguments of States.Array"));
        assert!(syntax("States.Array(1))").contains("unexpected text \")\" after the closing )"));
        assert!(syntax("States.Array(1) x").contains("unexpected text \"x\""));
        assert!(syntax("States.Array").contains("expected ( after States.Array"));
        assert!(syntax("States.Array(1,)").contains("unexpected ')' where an argument was expected"));
        assert!(syntax("States.Array(,1)").contains("unexpected ','"));
        assert!(syntax("States.Array(nul)").contains("unexpected \"nul\""));
        assert!(syntax("States.Array(01)").contains("invalid number \"01\""));
        assert!(syntax("States.Array(1.)").contains("invalid number"));
        assert!(syntax("States.Array(1e999)").contains("invalid number"));
        assert!(syntax("States.Array($.a b)").contains("unexpected 'b'"));
        assert!(syntax("States.Array(a.b)").contains("unexpected \"a\""));
        // An invalid path argument is not a syntax error: it fails when evaluated (below).
        assert!(Intrinsic::parse("States.Array($.)").is_ok() && Intrinsic::parse("States.Array($1var)").is_ok());
        // `$name` is a workflow variable.
        let call = Intrinsic::parse("States.Format('{} {}', $greeting, $who.name)").unwrap();
        let vars: Map<String, Value> = json!({"greeting": "hi", "who": {"name": "Ada"}}).as_object().cloned().unwrap();
        let scopes = [&vars];
        let got = call.evaluate_with(&json!({}), &Bindings::new(&Value::Null, &scopes));
        assert_eq!(got, Ok(json!("hi Ada")));
        assert!(syntax("").contains("expected an intrinsic function"));
        assert!(syntax("States.Array(").contains("expected an argument, found the end of the text"));
    }

    #[test]
    fn path_arguments_that_select_nothing_or_are_invalid_fail_at_run_time_as_states_runtime() {
        let runtime = |text: &str, data: Value| {
            let call = Intrinsic::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(call.text(), text);
            match call.evaluate_within(&data, &Bindings::context_only(&Value::Null), &mut SizeBudget::new(MAX_BUILD_BYTES)) {
                Err(IntrinsicError::Runtime(cause)) => cause,
                other => panic!("{text}: expected a runtime failure, got {other:?}"),
            }
        };
        assert!(runtime("States.Format('{}', $.a[)", json!({"a": [1]})).contains("The JsonPath argument '$.a[' is not a valid JSONPath"));
        assert!(runtime("States.ArrayLength($..[)", json!({})).contains("The JsonPath argument '$..[' is not a valid JSONPath"));
        assert!(runtime("States.Array(1, States.Array($.b.))", json!({})).contains("'$.b.' is not a valid JSONPath"));
        assert!(runtime("States.Array($['x)", json!({})).contains("'$['x' is not a valid JSONPath"));
        let cause = runtime("States.Format('{}', $.missing)", json!({"other": 1}));
        assert_eq!(cause, "The JsonPath argument for the field '$.missing' could not be found in the input '{\"other\":1}'");
        let long = runtime("States.Array($.x)", json!({"pad": "y".repeat(5000)}));
        assert!(long.ends_with("…'") && long.chars().count() < 1200, "{long}");
        // Nested calls keep their own text; an unclosed ( is still a syntax error.
        assert!(syntax("States.Format('{}', $.a[").contains("missing ) to close"));
    }

    #[test]
    fn paths_with_brackets_quotes_and_roots() {
        let data = json!({"a b": {"x,y)": 7}, "list": [10, 20, 30]});
        assert_eq!(ok("States.Array($['a b']['x,y)'], $.list[-1], $.list[0,2], $)", data.clone()), json!([7, 30, [10, 30], data]));
        // Filters may hold spaces, commas, parentheses and quotes.
        let items = json!({"items": [{"p": 5, "n": "a,b)"}, {"p": 20, "n": "c"}, {"p": 1, "n": "d"}]});
        assert_eq!(ok("States.ArrayLength($.items[?(@.p < 10 && @.n != 'a,b)')])", items), json!(1));
        let ctx = json!({"Execution": {"Id": "arn:exec"}});
        let call = Intrinsic::parse("States.Format('id={}', $$.Execution.Id)").unwrap();
        assert!(call.uses_context());
        assert_eq!(call.evaluate(&json!({}), &ctx), Ok(json!("id=arn:exec")));
        assert!(Intrinsic::parse("States.Array(States.Array($$))").unwrap().uses_context());
        assert!(!Intrinsic::parse("States.Array($.a, 1, '$$')").unwrap().uses_context());
        assert_eq!(
            fails("States.Array($.missing)", json!({"a": 1})),
            "The JsonPath argument for the field '$.missing' could not be found in the input '{\"a\":1}'"
        );
        assert_eq!(Intrinsic::parse("States.MathAdd(1, 2)").unwrap().function_name(), "States.MathAdd");
    }

    #[test]
    fn no_panics_on_mangled_input() {
        let seeds = [
            r"States.Format('a\{}{} \'x\' é', $.s, States.Array(1, -2.5e1, true, null))",
            "States.ArrayGetItem(States.StringSplit($['a b'][0], ','), 1.5)",
            "States.MathRandom($.n, States.MathAdd($$.x, 3), 7)",
            "States.JsonMerge(States.StringToJson('{\"a\": [1]}'), $.o, false)",
            "States.Hash(States.Base64Decode(States.Base64Encode($.s)), 'SHA-1')",
            "States.ArrayRange(1, $.n, -1)",
        ];
        let data = json!({"s": "x", "n": 3, "o": {"b": 2}, "a b": ["1,2"]});
        let ctx = json!({"x": 1});
        for seed in seeds {
            let bounds: Vec<usize> = seed.char_indices().map(|(i, _)| i).chain([seed.len()]).collect();
            for (i, &at) in bounds.iter().enumerate() {
                // The prefix, the text without its character at `at`, and insertions at `at`.
                let next = bounds.get(i + 1).copied().unwrap_or(seed.len());
                let mut variants = vec![seed[..at].to_string(), format!("{}{}", &seed[..at], &seed[next..])];
                for c in ['(', ')', '\'', '\\', ',', '$', '{', '}', ' ', 'é', '['] {
                    variants.push(format!("{}{c}{}", &seed[..at], &seed[at..]));
                }
                for text in &variants {
                    if let Ok(call) = Intrinsic::parse(text) {
                        let _ = call.evaluate(&data, &ctx);
                    }
                }
            }
        }
    }

    // --- States.Format ---

    #[test]
    fn format_renders_like_aws() {
        assert_eq!(ok("States.Format('Hello, my name is {}.', $.name)", json!({"name": "Arnav"})), json!("Hello, my name is Arnav."));
        assert_eq!(
            ok("States.Format($.template, $.name)", json!({"name": "Arnav", "template": "Hello, my name is {}."})),
            json!("Hello, my name is Arnav.")
        );
        let data = json!({"s": "", "n": null, "i": 1, "f": 1.1, "b": true, "o": {"Arg1": 1, "Arg2": []}, "a": ["x", {"k": null}]});
        assert_eq!(
            ok("States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.n, $.i, $.f, $.b, $.o, $.a)", data),
            json!("|null|1|1.1|true|{Arg1=1, Arg2=[]}|[x, {k=null}]")
        );
        assert_eq!(ok("States.Format('no holes')", json!({})), json!("no holes"));
    }

    #[test]
    fn format_errors() {
        assert_eq!(
            fails("States.Format($.t, 1)", json!({"t": "{} and {}"})),
            "States.Format: the template has 2 {} placeholder(s) but 1 value(s) follow it"
        );
        assert_eq!(
            fails("States.Format($.t)", json!({"t": 5})),
            "States.Format: the template (first argument) must be a string, got a number"
        );
        // A template from a path has no escapes: a backslash is plain text.
        assert_eq!(ok("States.Format($.t, 1)", json!({"t": "\\{}"})), json!("\\1"));
    }

    // --- States.StringToJson / States.JsonToString ---

    #[test]
    fn string_to_json() {
        assert_eq!(ok("States.StringToJson($.s)", json!({"s": "{\"foo\": \"bar\"}"})), json!({"foo": "bar"}));
        assert_eq!(ok("States.StringToJson('[1, 2, \"x\"]')", json!({})), json!([1, 2, "x"]));
        assert_eq!(ok("States.StringToJson(' ')", json!({})), json!(null));
        assert_eq!(ok("States.StringToJson('')", json!({})), json!(null));
        assert!(fails("States.StringToJson('{oops')", json!({})).starts_with("States.StringToJson: the string is not valid JSON: "));
        assert_eq!(fails("States.StringToJson(1)", json!({})), "States.StringToJson: the argument must be a string, got a number");
    }

    #[test]
    fn json_to_string() {
        assert_eq!(ok("States.JsonToString($.o)", json!({"o": {"foo": "bar", "n": [1, 2.5]}})), json!("{\"foo\":\"bar\",\"n\":[1,2.5]}"));
        assert_eq!(ok("States.JsonToString($.s)", json!({"s": "HelloWorld"})), json!("\"HelloWorld\""));
        assert_eq!(ok("States.JsonToString(-0)", json!({})), json!("0"));
        assert_eq!(ok("States.JsonToString(null)", json!({})), json!("null"));
        assert_eq!(
            fails("States.JsonToString($.nope)", json!({})),
            "The JsonPath argument for the field '$.nope' could not be found in the input '{}'"
        );
    }

    // --- arrays ---

    #[test]
    fn array() {
        assert_eq!(ok("States.Array($.Id)", json!({"Id": 123456})), json!([123456]));
        assert_eq!(ok("States.Array()", json!({})), json!([]));
        assert_eq!(ok("States.Array(States.Array(1), 'two')", json!({})), json!([[1], "two"]));
        assert_eq!(
            fails("States.Array(1, $.x)", json!({})),
            "The JsonPath argument for the field '$.x' could not be found in the input '{}'"
        );
    }

    #[test]
    fn array_partition() {
        let data = json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]});
        assert_eq!(ok("States.ArrayPartition($.a, 4)", data.clone()), json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]));
        assert_eq!(ok("States.ArrayPartition($.a, 20)", data.clone()), json!([[1, 2, 3, 4, 5, 6, 7, 8, 9]]));
        assert_eq!(ok("States.ArrayPartition(States.Array(), 3)", json!({})), json!([]));
        // Rounded half up: 2.5 is 3, 0.4 is 0.
        assert_eq!(ok("States.ArrayPartition($.a, 2.5)", data.clone()), json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]]));
        assert_eq!(
            fails("States.ArrayPartition($.a, 0.4)", data.clone()),
            "States.ArrayPartition: the chunk size must be a positive integer, got 0"
        );
        assert_eq!(
            fails("States.ArrayPartition($.a, -1)", data.clone()),
            "States.ArrayPartition: the chunk size must be a positive integer, got -1"
        );
        assert_eq!(
            fails("States.ArrayPartition('abc', 1)", data),
            "States.ArrayPartition: the first argument must be an array, got a string"
        );
    }

    #[test]
    fn array_contains() {
        let data = json!({"a": [1, 2, 3, {"k": [1, {"z": 1, "y": 2}]}, null, "5"], "o": {"k": [1, {"y": 2, "z": 1}]}});
        assert_eq!(ok("States.ArrayContains($.a, 2)", data.clone()), json!(true));
        assert_eq!(ok("States.ArrayContains($.a, 5)", data.clone()), json!(false));
        assert_eq!(ok("States.ArrayContains($.a, '5')", data.clone()), json!(true));
        assert_eq!(ok("States.ArrayContains($.a, $.o)", data.clone()), json!(true));
        assert_eq!(ok("States.ArrayContains($.a, null)", data.clone()), json!(true));
        assert_eq!(ok("States.ArrayContains($.a, 2.0)", data.clone()), json!(true));
        assert_eq!(ok("States.ArrayContains(States.Array(), null)", json!({})), json!(false));
        assert_eq!(fails("States.ArrayContains($.o, 1)", data), "States.ArrayContains: the first argument must be an array, got an object");
    }

    #[test]
    fn array_range() {
        assert_eq!(ok("States.ArrayRange(1, 9, 2)", json!({})), json!([1, 3, 5, 7, 9]));
        assert_eq!(ok("States.ArrayRange(0, 10, 3)", json!({})), json!([0, 3, 6, 9]));
        assert_eq!(ok("States.ArrayRange(5, -5, -5)", json!({})), json!([5, 0, -5]));
        assert_eq!(ok("States.ArrayRange(3, 3, 7)", json!({})), json!([3]));
        assert_eq!(ok("States.ArrayRange(9, 1, 2)", json!({})), json!([]));
        assert_eq!(ok("States.ArrayRange(0.5, 2.4, 1.2)", json!({})), json!([1, 2]));
        assert_eq!(ok("States.ArrayRange(1, 1000, 1)", json!({})).as_array().map(Vec::len), Some(1000));
        assert_eq!(
            fails("States.ArrayRange(0, 1000, 1)", json!({})),
            "States.ArrayRange: the range would have 1001 elements; at most 1000 are allowed"
        );
        assert_eq!(fails("States.ArrayRange(1, 9, 0)", json!({})), "States.ArrayRange: the step must not be 0");
        assert_eq!(fails("States.ArrayRange(1, '9', 1)", json!({})), "States.ArrayRange: the end must be an integer, got a string");
        let huge = "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)";
        assert_eq!(
            fails(huge, json!({})),
            "States.ArrayRange: the range would have 18446744073709551616 elements; at most 1000 are allowed"
        );
    }

    #[test]
    fn array_get_item() {
        let data = json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5});
        assert_eq!(ok("States.ArrayGetItem($.a, $.i)", data.clone()), json!(6));
        assert_eq!(ok("States.ArrayGetItem($.a, 0)", data.clone()), json!(1));
        assert_eq!(ok("States.ArrayGetItem(States.Array('x', 'y'), 1.4)", json!({})), json!("y"));
        assert_eq!(
            fails("States.ArrayGetItem(States.Array(1, 2, 3), 5)", json!({})),
            "States.ArrayGetItem: index 5 is out of bounds for an array of 3"
        );
        assert_eq!(fails("States.ArrayGetItem($.a, -1)", data.clone()), "States.ArrayGetItem: index -1 is out of bounds for an array of 9");
        assert_eq!(fails("States.ArrayGetItem($.a, 'x')", data), "States.ArrayGetItem: the index must be an integer, got a string");
        assert_eq!(fails("States.ArrayGetItem($.a, 1e300)", json!({"a": []})), "States.ArrayGetItem: the index 1e+300 is too large");
    }

    #[test]
    fn array_length() {
        assert_eq!(ok("States.ArrayLength($.a)", json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]})), json!(9));
        assert_eq!(ok("States.ArrayLength(States.Array())", json!({})), json!(0));
        assert_eq!(ok("States.ArrayLength($.a[*].b)", json!({"a": [{"b": 1}, {}, {"b": 2}]})), json!(2));
        assert_eq!(
            fails("States.ArrayLength($.a)", json!({"a": "abc"})),
            "States.ArrayLength: the argument must be an array, got a string"
        );
    }

    #[test]
    fn array_unique() {
        assert_eq!(ok("States.ArrayUnique($.a)", json!({"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]})), json!([1, 2, 3, 4]));
        let mixed = json!({"a": [null, null, true, true, false, 1, 1.0, 1.1, 0, "1", [], [], [null], {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 1}]});
        assert_eq!(
            ok("States.ArrayUnique($.a)", mixed),
            json!([null, true, false, 1, 1.1, 0, "1", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}])
        );
        assert_eq!(ok("States.ArrayUnique(States.Array())", json!({})), json!([]));
        assert_eq!(fails("States.ArrayUnique(1)", json!({})), "States.ArrayUnique: the argument must be an array, got a number");
    }

    // --- encoding, hashing ---

    #[test]
    fn base64_encode() {
        assert_eq!(ok("States.Base64Encode($.input)", json!({"input": "Data to encode"})), json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
        assert_eq!(ok("States.Base64Encode('héllo')", json!({})), json!("aMOpbGxv"));
        let at_limit = json!({"s": "é".repeat(10_000)});
        assert_eq!(ok("States.Base64Encode($.s)", at_limit).as_str().map(str::len), Some(26_668));
        assert_eq!(
            fails("States.Base64Encode($.s)", json!({"s": "a".repeat(10_001)})),
            "States.Base64Encode: the input has 10001 characters; at most 10000 are allowed"
        );
        assert_eq!(fails("States.Base64Encode(1)", json!({})), "States.Base64Encode: the input must be a string, got a number");
    }

    #[test]
    fn base64_decode() {
        assert_eq!(ok("States.Base64Decode($.b)", json!({"b": "RGF0YSB0byBlbmNvZGU="})), json!("Data to encode"));
        assert_eq!(ok("States.Base64Decode('RGF0YSB0byBlbmNvZGU')", json!({})), json!("Data to encode"));
        assert_eq!(ok("States.Base64Decode('RGF0YSB0\r\nbyBlbmNvZGU=')", json!({})), json!("Data to encode"));
        assert_eq!(ok("States.Base64Decode('')", json!({})), json!(""));
        assert_eq!(ok("States.Base64Decode('/w==')", json!({})), json!("\u{FFFD}"));
        assert!(fails("States.Base64Decode('***')", json!({})).starts_with("States.Base64Decode: the input is not valid base64: "));
        assert_eq!(
            fails("States.Base64Decode($.s)", json!({"s": "A".repeat(10_004)})),
            "States.Base64Decode: the input has 10004 characters; at most 10000 are allowed"
        );
    }

    #[test]
    fn hash() {
        let data = |alg: &str| json!({"Data": "input data", "Algorithm": alg});
        let h = |alg: &str| ok("States.Hash($.Data, $.Algorithm)", data(alg));
        assert_eq!(h("MD5"), json!("812f45842bc6d66ee14572ce20db8e86"));
        assert_eq!(h("SHA-1"), json!("aaff4a450a104cd177d28d18d74485e8cae074b7"));
        assert_eq!(h("SHA-256"), json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"));
        assert_eq!(h("SHA-384"), json!("d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"));
        assert_eq!(h("SHA-512"), json!("6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"));
        assert_eq!(ok("States.Hash('', 'MD5')", json!({})), json!("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(
            ok("States.Hash('héllo', 'SHA-256')", json!({})),
            json!("3c48591d8d098a4538f5e013dfcf406e948eac4d3277b10bf614e295d6068179")
        );
        assert_eq!(
            fails("States.Hash('x', 'sha256')", json!({})),
            "States.Hash: unknown algorithm \"sha256\"; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
        );
        assert_eq!(fails("States.Hash(1, 'MD5')", json!({})), "States.Hash: the data must be a string, got a number");
        assert_eq!(
            fails("States.Hash($.s, 'MD5')", json!({"s": "a".repeat(10_001)})),
            "States.Hash: the data has 10001 characters; at most 10000 are allowed"
        );
    }

    // --- JSON ---

    #[test]
    fn json_merge() {
        let data = json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}});
        let merged = ok("States.JsonMerge($.json1, $.json2, false)", data.clone());
        assert_eq!(merged, json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}));
        let keys: Vec<&String> = merged.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(
            ok("States.JsonMerge(States.StringToJson('{\"x\": \"false\"}'), $.json2, false)", data.clone()),
            json!({"x": "false", "a": {"a3": 1, "a4": 2}, "c": 3})
        );
        assert_eq!(
            fails("States.JsonMerge($.json1, $.json2, true)", data.clone()),
            "States.JsonMerge: deep merging is not supported; the third argument must be false"
        );
        assert_eq!(
            fails("States.JsonMerge($.json1, $.json2, 'false')", data.clone()),
            "States.JsonMerge: the third argument must be the boolean false, got a string"
        );
        assert_eq!(
            fails("States.JsonMerge($.json1, States.Array(), false)", data),
            "States.JsonMerge: the second argument must be an object, got an array"
        );
    }

    // --- math ---

    #[test]
    fn math_random() {
        for _ in 0..200 {
            let n = ok("States.MathRandom($.start, $.end)", json!({"start": 1, "end": 4})).as_i64().unwrap_or(-1);
            assert!((1..4).contains(&n), "{n}");
        }
        assert_eq!(ok("States.MathRandom(5, 6)", json!({})), json!(5));
        let span = ok("States.MathRandom(-9223372036854775808, 9223372036854775807)", json!({}));
        assert!(span.is_i64());
        assert_eq!(fails("States.MathRandom(3, 3)", json!({})), "States.MathRandom: the start (3) must be less than the end (3)");
        assert_eq!(fails("States.MathRandom(1, 'x')", json!({})), "States.MathRandom: the end must be an integer, got a string");
    }

    #[test]
    fn math_random_seeded_is_deterministic() {
        // java.util.Random: new Random(3).nextInt(999) == 239, new Random(42).nextInt(10) == 0.
        assert_eq!(ok("States.MathRandom(0, 999, 3)", json!({})), json!(239));
        assert_eq!(ok("States.MathRandom(10, 20, 42)", json!({})), json!(10));
        assert_eq!(ok("States.MathRandom(0, 64, 7)", json!({})), json!(46));
        assert_eq!(ok("States.MathRandom(0, 1000000007, -5)", json!({})), json!(578319411));
        assert_eq!(ok("States.MathRandom(0, 2147483647, 123456789)", json!({})), json!(1426010965));
        // Start and end are rounded: [12.5, 44.51) is [13, 45).
        let a = ok("States.MathRandom(12.5, 44.51, 9)", json!({}));
        assert_eq!(a, ok("States.MathRandom(13, 45, 9)", json!({})));
    }

    #[test]
    fn math_add() {
        assert_eq!(ok("States.MathAdd($.value1, $.step)", json!({"value1": 111, "step": -1})), json!(110));
        // Java rounding, as recorded on AWS: 1.49+1.5 = 3, 1.5+1.51 = 4, -1.49+-1.5 = -2.
        assert_eq!(ok("States.MathAdd(1.49, 1.5)", json!({})), json!(3));
        assert_eq!(ok("States.MathAdd(1.5, 1.51)", json!({})), json!(4));
        assert_eq!(ok("States.MathAdd(-1.49, -1.5)", json!({})), json!(-2));
        assert_eq!(ok("States.MathAdd(-2.5, 0.5)", json!({})), json!(-1));
        assert_eq!(ok("States.MathAdd(-2147483648, 2147483647)", json!({})), json!(-1));
        assert_eq!(
            fails("States.MathAdd(2147483648, 0)", json!({})),
            "States.MathAdd: the first argument 2147483648 is outside the allowed range -2147483648 to 2147483647"
        );
        assert_eq!(
            fails("States.MathAdd(2147483647, 1)", json!({})),
            "States.MathAdd: the sum 2147483648 is outside the range -2147483648 to 2147483647"
        );
        assert_eq!(fails("States.MathAdd(1, null)", json!({})), "States.MathAdd: the second argument must be an integer, got null");
    }

    // --- strings, ids ---

    #[test]
    fn string_split() {
        assert_eq!(ok("States.StringSplit($.s, $.d)", json!({"s": "1,2,3,4,5", "d": ","})), json!(["1", "2", "3", "4", "5"]));
        assert_eq!(
            ok("States.StringSplit($.s, $.d)", json!({"s": "This.is+a,test=string", "d": ".+,="})),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(ok("States.StringSplit(',a,,b,', ',')", json!({})), json!(["a", "b"]));
        assert_eq!(ok("States.StringSplit('abc', '')", json!({})), json!(["abc"]));
        assert_eq!(ok("States.StringSplit('', ',')", json!({})), json!([]));
        assert_eq!(ok("States.StringSplit('a→b', '→')", json!({})), json!(["a", "b"]));
        assert_eq!(fails("States.StringSplit(1, ',')", json!({})), "States.StringSplit: the first argument must be a string, got a number");
        assert_eq!(
            fails("States.StringSplit('a', $.d)", json!({"d": [","]})),
            "States.StringSplit: the delimiter (second argument) must be a string, got an array"
        );
    }

    #[test]
    fn uuid() {
        let a = ok("States.UUID()", json!({}));
        let b = ok("States.UUID()", json!({}));
        let text = a.as_str().unwrap_or("");
        assert_eq!(text.len(), 36);
        assert_eq!(text.as_bytes()[14], b'4', "{text}");
        assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{text}");
        assert!(text.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)), "{text}");
        assert_ne!(a, b);
        assert!(syntax("States.UUID('x')").contains("takes 0 arguments"));
        assert!(syntax("States.Uuid()").contains("unknown intrinsic function States.Uuid"));
    }

    // --- size budget ---

    /// Evaluates `text` with a budget of `limit` bytes.
    fn within(text: &str, data: Value, limit: usize) -> Result<Value, IntrinsicError> {
        let call = Intrinsic::parse(text).unwrap();
        call.evaluate_within(&data, &Bindings::context_only(&Value::Null), &mut SizeBudget::new(limit))
    }

    fn too_big(result: Result<Value, IntrinsicError>) -> String {
        match result {
            Err(IntrinsicError::TooBig(cause)) => cause,
            other => panic!("expected the size budget to stop it, got {other:?}"),
        }
    }

    #[test]
    fn arguments_are_counted_as_they_are_made() {
        let data = json!({"s": "x".repeat(98)});
        // Each $.s is 100 bytes; the array of ten, 1,011.
        let ten = format!("States.Array({})", ["$.s"; 10].join(", "));
        assert_eq!(within(&ten, data.clone(), 1011).unwrap().as_array().unwrap().len(), 10);
        let many = format!("States.Array({})", vec!["$.s"; 20_000].join(", "));
        let cause = too_big(within(&many, data.clone(), 1011));
        assert_eq!(cause, "States.Array: it would take more than 1011 bytes of JSON (the limit on what one evaluation builds)");
        // A template fan-out through a nested call stops the same way.
        let nested = format!("States.JsonToString(States.Array({}))", vec!["$.s"; 20_000].join(", "));
        assert!(too_big(within(&nested, data, 100_000)).starts_with("States.Array:"));
    }

    #[test]
    fn format_checks_its_text_while_it_grows() {
        let data = json!({"s": "x".repeat(1000)});
        // The arguments ('{}{}' and twice 1,002 bytes) and the text (2,000) are alive at once.
        assert!(within("States.Format('{}{}', $.s, $.s)", data.clone(), 6 + 2004 + 2000).is_ok());
        let cause = too_big(within("States.Format('{}{}', $.s, $.s)", data.clone(), 6 + 2004 + 1999));
        assert!(cause.starts_with("States.Format: it would take more than"), "{cause}");
        // Once made, only the result stays counted.
        let mut budget = SizeBudget::new(1 << 20);
        let call = Intrinsic::parse("States.Format('{}', $.s)").unwrap();
        call.evaluate_within(&data, &Bindings::context_only(&Value::Null), &mut budget).unwrap();
        assert_eq!(budget.used(), 1002);
    }

    #[test]
    fn functions_that_expand_are_capped() {
        let data = json!({"csv": "a,".repeat(5000), "list": (0..1000).collect::<Vec<_>>(), "ctl": "\u{1}".repeat(1000)});
        // StringSplit: 5,000 parts of 4 bytes of JSON each, on top of the 10,002-byte input.
        assert!(within("States.StringSplit($.csv, ',')", data.clone(), 10_002 + 3 + 20_002).is_ok());
        assert!(too_big(within("States.StringSplit($.csv, ',')", data.clone(), 10_002 + 3 + 15_000)).starts_with("States.StringSplit"));
        // JsonToString: control characters take six bytes each once escaped.
        assert!(too_big(within("States.JsonToString($.ctl)", data.clone(), 7_000)).starts_with("States.JsonToString"));
        assert!(within("States.JsonToString($.ctl)", data.clone(), 20_000).is_ok());
        // ArrayPartition moves the items: only the chunks' brackets are new.
        let parts = within("States.ArrayPartition($.list, 3)", data, 4_000 + 1_100).unwrap();
        assert_eq!(parts.as_array().unwrap().len(), 334);
        assert_eq!(parts[333], json!([999]));
    }
}
