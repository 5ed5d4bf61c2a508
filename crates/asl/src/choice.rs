//! Choice rules: parsing and evaluating the boolean expressions of a Choice
//! state (all comparison operators, their `...Path` forms, `Is*` tests and
//! `And`/`Or`/`Not`).
//!
//! As on AWS: `Variable` and every `...Path` operand is a Reference Path,
//! which may read the context object (`$$`); strings order by UTF-16 code
//! units (Java's `String.compareTo`); timestamps are RFC 3339 with an
//! uppercase `T` and `Z`.

use super::path::{Bindings, Path, Root};
use super::ValidationError;
use serde_json::Value;
use std::cmp::Ordering;

/// A top-level rule of `Choices`: a condition and where to go when it holds.
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
    /// `Assign`: variables set when this rule is the one taken.
    pub assign: Option<super::template::Template>,
    /// `Output` (JSONata): the state's output when this rule is taken.
    pub output: Option<super::template::Template>,
}

/// A boolean expression over the state's input and the context object.
#[derive(Debug, Clone)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Test {
        variable: Path,
        test: Test,
    },
    /// A JSONata rule's `Condition`: a `{% %}` expression (or a literal
    /// boolean) that must give true or false.
    Jsonata(super::template::Template),
}

impl Condition {
    /// True when evaluating the condition may read the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        match self {
            Condition::And(all) | Condition::Or(all) => all.iter().any(Condition::uses_context),
            Condition::Not(inner) => inner.uses_context(),
            Condition::Test { variable, test } => {
                variable.root() == Root::Context
                    || matches!(test, Test::Compare { operand: Operand::Path(path), .. } if path.root() == Root::Context)
            }
            Condition::Jsonata(template) => template.uses_context(),
        }
    }
}

/// The comparison a data-test rule applies to its `Variable`.
#[derive(Debug, Clone)]
pub enum Test {
    Compare { kind: Kind, cmp: Ordering, or_equal: bool, operand: Operand },
    Matches(Wildcard),
    Is { check: IsCheck, expected: bool },
}

/// The value type a comparison operator works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

/// A comparison's right-hand side: a literal, or (for `...Path` operators) a path.
#[derive(Debug, Clone)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

/// The `Is*` type tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsCheck {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

/// An evaluation that cannot give true or false: AWS fails the execution with
/// `States.Runtime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceRuntimeError(pub String);

const KINDS: [(&str, Kind); 4] =
    [("String", Kind::String), ("Numeric", Kind::Numeric), ("Boolean", Kind::Boolean), ("Timestamp", Kind::Timestamp)];
const COMPARISONS: [(&str, Ordering, bool); 5] = [
    ("Equals", Ordering::Equal, false),
    ("LessThanEquals", Ordering::Less, true),
    ("GreaterThanEquals", Ordering::Greater, true),
    ("LessThan", Ordering::Less, false),
    ("GreaterThan", Ordering::Greater, false),
];
const IS_CHECKS: [(&str, IsCheck); 6] = [
    ("IsNull", IsCheck::Null),
    ("IsPresent", IsCheck::Present),
    ("IsNumeric", IsCheck::Numeric),
    ("IsString", IsCheck::String),
    ("IsBoolean", IsCheck::Boolean),
    ("IsTimestamp", IsCheck::Timestamp),
];

/// Splits an operator name like `NumericLessThanEqualsPath` into its parts.
fn parse_operator(name: &str) -> Option<(Kind, Ordering, bool, bool)> {
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let (kind, rest) = KINDS.iter().find_map(|(prefix, kind)| base.strip_prefix(prefix).map(|r| (*kind, r)))?;
    let (_, cmp, or_equal) = COMPARISONS.iter().find(|(suffix, _, _)| *suffix == rest)?;
    if kind == Kind::Boolean && *cmp != Ordering::Equal {
        return None;
    }
    Some((kind, *cmp, *or_equal, is_path))
}

/// True when `name` is one of the comparison operator field names.
fn is_operator_name(name: &str) -> bool {
    name == "StringMatches" || parse_operator(name).is_some() || IS_CHECKS.iter().any(|(n, _)| *n == name)
}

impl Condition {
    /// Parses one rule object. `top_level` rules carry `Next`; nested ones must not.
    pub fn parse(value: &Value, location: &str, top_level: bool, errors: &mut Vec<ValidationError>) -> Option<Condition> {
        let Value::Object(map) = value else {
            errors.push(ValidationError::new(location, "a choice rule must be an object"));
            return None;
        };
        let err = |errors: &mut Vec<ValidationError>, field: &str, msg: String| {
            errors.push(ValidationError::new(&format!("{location}.{field}"), msg));
        };
        for key in map.keys() {
            let known = matches!(key.as_str(), "And" | "Or" | "Not" | "Variable" | "Comment") || is_operator_name(key);
            if (key == "Next" || key == "Assign") && !top_level {
                err(errors, key, format!("only top-level choice rules may have {key}"));
            } else if !known && key != "Next" && key != "Assign" {
                err(errors, key, format!("unknown field {key:?} in a choice rule"));
            }
        }
        let combinators: Vec<&str> = ["And", "Or", "Not"].into_iter().filter(|k| map.contains_key(*k)).collect();
        let operators: Vec<&String> = map.keys().filter(|k| is_operator_name(k)).collect();
        if combinators.len() + usize::from(!operators.is_empty()) != 1 || operators.len() > 1 {
            errors.push(ValidationError::new(
                location,
                "a choice rule needs exactly one of And, Or, Not, or a Variable with one comparison operator",
            ));
            return None;
        }
        if let Some(comb) = combinators.first() {
            if map.contains_key("Variable") {
                err(errors, "Variable", format!("a rule with {comb} cannot also have Variable"));
            }
            let inner = &map[*comb];
            return match (*comb, inner) {
                ("Not", v) => Condition::parse(v, &format!("{location}.Not"), false, errors).map(|c| Condition::Not(Box::new(c))),
                (_, Value::Array(items)) if !items.is_empty() => {
                    let parts: Vec<Option<Condition>> = items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Condition::parse(v, &format!("{location}.{comb}[{i}]"), false, errors))
                        .collect();
                    let parts: Option<Vec<Condition>> = parts.into_iter().collect();
                    parts.map(|p| if *comb == "And" { Condition::And(p) } else { Condition::Or(p) })
                }
                _ => {
                    err(errors, comb, format!("{comb} must be a non-empty array of rules"));
                    None
                }
            };
        }
        let op = operators[0].as_str();
        let variable = match map.get("Variable") {
            Some(Value::String(s)) => match Path::parse_reference_allowing_context(s) {
                Ok(p) => Some(p),
                Err(e) => {
                    err(errors, "Variable", e.to_string());
                    None
                }
            },
            Some(_) => {
                err(errors, "Variable", "Variable must be a string path".into());
                None
            }
            None => {
                errors.push(ValidationError::new(location, format!("the {op} comparison needs a Variable")));
                None
            }
        };
        let test = Self::parse_test(op, &map[op], &format!("{location}.{op}"), errors)?;
        Some(Condition::Test { variable: variable?, test })
    }

    fn parse_test(op: &str, operand: &Value, location: &str, errors: &mut Vec<ValidationError>) -> Option<Test> {
        let mut fail = |msg: String| {
            errors.push(ValidationError::new(location, msg));
            None
        };
        if let Some((_, check)) = IS_CHECKS.iter().find(|(n, _)| *n == op) {
            return match operand {
                Value::Bool(b) => Some(Test::Is { check: *check, expected: *b }),
                _ => fail(format!("{op} takes true or false")),
            };
        }
        if op == "StringMatches" {
            return match operand {
                Value::String(p) => Some(Test::Matches(Wildcard::new(p))),
                _ => fail("StringMatches takes a string pattern".into()),
            };
        }
        let (kind, cmp, or_equal, is_path) = parse_operator(op)?;
        let operand = if is_path {
            match operand.as_str().map(Path::parse_reference_allowing_context) {
                Some(Ok(p)) => Operand::Path(p),
                Some(Err(e)) => return fail(e.to_string()),
                None => return fail(format!("{op} takes a path string")),
            }
        } else {
            let ok = match kind {
                Kind::String => operand.is_string(),
                Kind::Numeric => operand.is_number(),
                Kind::Boolean => operand.is_boolean(),
                Kind::Timestamp => operand.as_str().is_some_and(|s| parse_timestamp(s).is_some()),
            };
            if !ok {
                return fail(format!("{op} takes {} value", kind_noun(kind)));
            }
            Operand::Literal(operand.clone())
        };
        Some(Test::Compare { kind, cmp, or_equal, operand })
    }

    /// Evaluates the condition against the state's effective input; paths
    /// starting with `$$` read `context`, the context object.
    pub fn evaluate(&self, input: &Value, context: &Value) -> Result<bool, ChoiceRuntimeError> {
        self.evaluate_with(input, &Bindings::context_only(context))
    }

    /// Evaluates the condition: `$` paths read the effective input, `$$`
    /// paths the context object, `$name` paths a variable.
    pub fn evaluate_with(&self, input: &Value, context: &Bindings) -> Result<bool, ChoiceRuntimeError> {
        match self {
            Condition::And(parts) => {
                for p in parts {
                    if !p.evaluate_with(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(parts) => {
                for p in parts {
                    if p.evaluate_with(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(inner) => Ok(!inner.evaluate_with(input, context)?),
            Condition::Jsonata(template) => match template.render_with(input, context) {
                Ok(Value::Bool(b)) => Ok(b),
                Ok(other) => Err(ChoiceRuntimeError(format!("the Condition gave {other}, not true or false"))),
                Err(e) => Err(ChoiceRuntimeError(e.cause)),
            },
            Condition::Test { variable, test } => {
                stepwasm_jsonata::evaluation_budget::check().map_err(|e| ChoiceRuntimeError(e.to_string()))?;
                let value = read(variable, input, context);
                if let Test::Is { check: IsCheck::Present, expected } = test {
                    return Ok(value.is_some() == *expected);
                }
                let value = value.ok_or_else(|| invalid_path(variable))?;
                test.apply(&value, input, context)
            }
        }
    }

    /// True when some path of the condition reads the context object, so the
    /// caller knows it must build one.
    pub fn reads_context(&self) -> bool {
        match self {
            Condition::And(parts) | Condition::Or(parts) => parts.iter().any(Condition::reads_context),
            Condition::Not(inner) => inner.reads_context(),
            Condition::Jsonata(_) => true,
            Condition::Test { variable, test } => {
                variable.root() == Root::Context
                    || matches!(test, Test::Compare { operand: Operand::Path(p), .. } if p.root() == Root::Context)
            }
        }
    }
}

/// Reads `path` from the input, the context object (`$$`) or a variable (`$name`).
fn read(path: &Path, input: &Value, context: &Bindings) -> Option<Value> {
    path.resolve(input, context)
}

fn invalid_path(path: &Path) -> ChoiceRuntimeError {
    // A path selects nothing once the state's evaluation budget is spent: say that instead.
    if let Err(e) = stepwasm_jsonata::evaluation_budget::check() {
        return ChoiceRuntimeError(e.to_string());
    }
    ChoiceRuntimeError(format!("Invalid path '{path}': The choice state's condition path references an invalid value."))
}

impl Test {
    fn apply(&self, value: &Value, input: &Value, context: &Bindings) -> Result<bool, ChoiceRuntimeError> {
        Ok(match self {
            Test::Is { check, expected } => {
                let holds = match check {
                    IsCheck::Null => value.is_null(),
                    IsCheck::Present => true,
                    IsCheck::Numeric => value.is_number(),
                    IsCheck::String => value.is_string(),
                    IsCheck::Boolean => value.is_boolean(),
                    IsCheck::Timestamp => value.as_str().is_some_and(|s| parse_timestamp(s).is_some()),
                };
                holds == *expected
            }
            Test::Matches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
            Test::Compare { kind, cmp, or_equal, operand } => {
                let rhs = match operand {
                    Operand::Literal(v) => v.clone(),
                    Operand::Path(p) => read(p, input, context).ok_or_else(|| invalid_path(p))?,
                };
                match compare(*kind, value, &rhs) {
                    Some(ord) => ord == *cmp || (*or_equal && ord == Ordering::Equal),
                    None => false, // different types never match, as on AWS
                }
            }
        })
    }
}

fn kind_noun(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "a string",
        Kind::Numeric => "a number",
        Kind::Boolean => "a boolean",
        Kind::Timestamp => "an RFC 3339 timestamp",
    }
}

fn compare(kind: Kind, a: &Value, b: &Value) -> Option<Ordering> {
    match kind {
        // Java's String.compareTo, which AWS uses: UTF-16 code units, so a
        // character beyond U+FFFF sorts below U+E000..U+FFFF.
        Kind::String => Some(a.as_str()?.encode_utf16().cmp(b.as_str()?.encode_utf16())),
        Kind::Numeric => a.as_f64()?.partial_cmp(&b.as_f64()?),
        Kind::Boolean => (a.as_bool()? == b.as_bool()?).then_some(Ordering::Equal).or(Some(Ordering::Less)),
        Kind::Timestamp => Some(parse_timestamp(a.as_str()?)?.cmp(&parse_timestamp(b.as_str()?)?)),
    }
}

/// Parses an RFC 3339 timestamp (`2026-11-25T10:00:00Z`) as AWS applies it:
/// the separator must be an uppercase `T` and a UTC designator an uppercase
/// `Z` (chrono also accepts `t`, a space and `z`). Used by Choice rules and
/// the Wait state alike.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    if s.as_bytes().get(10) != Some(&b'T') || s.ends_with('z') {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// A `StringMatches` pattern, split once at its unescaped `*`s into the
/// literal runs between them: `*` matches any run of characters, `\*` is a
/// literal star and `\\` a backslash (`\` before any other character, or at
/// the end, stands for that character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    /// The literal runs; one more than the stars (`a*b*` is `["a", "b", ""]`).
    segments: Vec<String>,
}

impl Wildcard {
    pub fn new(pattern: &str) -> Wildcard {
        let mut segments = Vec::new();
        let mut run = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => segments.push(std::mem::take(&mut run)),
                '\\' => run.push(chars.next().unwrap_or('\\')),
                c => run.push(c),
            }
        }
        segments.push(run);
        Wildcard { segments }
    }

    /// True when the whole of `text` matches, in time linear in the text and
    /// the pattern: the first and last runs are anchored at the ends, and
    /// each run between them is taken at its leftmost place after the one
    /// before (leftmost is always safe: it leaves the most text for the
    /// rest), found by a linear substring search. UTF-8 being
    /// self-synchronising, a byte match is a match of whole characters.
    pub fn matches(&self, text: &str) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else { return text == first };
        let Some(after_first) = text.strip_prefix(first.as_str()) else { return false };
        let Some(mut between) = after_first.strip_suffix(last.as_str()) else { return false };
        for segment in middle {
            match between.find(segment.as_str()) {
                Some(at) => between = &between[at + segment.len()..],
                None => return false,
            }
        }
        true
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` escape.
pub fn string_matches(text: &str, pattern: &str) -> bool {
    Wildcard::new(pattern).matches(text)
}

/// Parses the `Choices` array of a Choice state.
pub fn parse_rules(value: &Value, location: &str, jsonata: bool, errors: &mut Vec<ValidationError>) -> Vec<ChoiceRule> {
    let Value::Array(items) = value else {
        errors.push(ValidationError::new(location, "Choices must be a non-empty array"));
        return Vec::new();
    };
    if items.is_empty() {
        errors.push(ValidationError::new(location, "Choices must be a non-empty array"));
    }
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let loc = format!("{location}[{i}]");
        let next = match item.get("Next") {
            Some(Value::String(n)) => Some(n.clone()),
            Some(_) => {
                errors.push(ValidationError::new(&format!("{loc}.Next"), "Next must be a state name"));
                None
            }
            None => {
                errors.push(ValidationError::new(&loc, "a top-level choice rule needs Next"));
                None
            }
        };
        use super::template::Template;
        let (condition, assign, output) = if jsonata {
            (
                parse_jsonata_rule(item, &loc, errors),
                item.get("Assign").map(|v| Template::parse_assign_jsonata(v, &format!("{loc}.Assign"), errors)),
                item.get("Output").map(|v| Template::parse_jsonata(v, &format!("{loc}.Output"), errors)),
            )
        } else {
            if item.get("Output").is_some() || item.get("Condition").is_some() {
                let key = if item.get("Output").is_some() { "Output" } else { "Condition" };
                errors.push(ValidationError::new(
                    &format!("{loc}.{key}"),
                    format!("field {key:?} is only allowed in JSONata states (QueryLanguage \"JSONata\")"),
                ));
            }
            let condition = Condition::parse(item, &loc, true, errors);
            (condition, item.get("Assign").map(|v| Template::parse_assign(v, &format!("{loc}.Assign"), errors)), None)
        };
        if let (Some(condition), Some(next)) = (condition, next) {
            rules.push(ChoiceRule { condition, next, assign, output });
        }
    }
    rules
}

/// A JSONata rule: `Condition`, `Next`, and optionally `Assign`, `Output`, `Comment`.
fn parse_jsonata_rule(item: &Value, loc: &str, errors: &mut Vec<ValidationError>) -> Option<Condition> {
    let Value::Object(map) = item else {
        errors.push(ValidationError::new(loc, "a choice rule must be an object"));
        return None;
    };
    for key in map.keys() {
        if !matches!(key.as_str(), "Condition" | "Next" | "Assign" | "Output" | "Comment") {
            errors.push(ValidationError::new(
                &format!("{loc}.{key}"),
                format!("field {key:?} is not allowed in a JSONata choice rule (use Condition with a {{% %}} expression)"),
            ));
        }
    }
    let cond_loc = format!("{loc}.Condition");
    match map.get("Condition") {
        None => {
            errors.push(ValidationError::new(loc, "a JSONata choice rule needs Condition"));
            None
        }
        Some(v @ Value::Bool(_)) => Some(Condition::Jsonata(super::template::Template::Literal(v.clone()))),
        Some(v @ Value::String(text)) if super::template::jsonata_source(text).is_some() => {
            Some(Condition::Jsonata(super::template::Template::parse_jsonata(v, &cond_loc, errors)))
        }
        Some(_) => {
            errors.push(ValidationError::new(&cond_loc, "Condition must be a {% %} expression or a boolean"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(rule: Value, input: Value) -> Result<bool, ChoiceRuntimeError> {
        let mut errors = Vec::new();
        let c = Condition::parse(&rule, "R", false, &mut errors).unwrap_or_else(|| panic!("{errors:?}"));
        assert!(errors.is_empty(), "{errors:?}");
        c.evaluate(&input, &Value::Null)
    }

    fn parse_errors(rule: Value) -> Vec<String> {
        let mut errors = Vec::new();
        parse_rules(&json!([rule]), "States.C.Choices", false, &mut errors);
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn comparisons() {
        let input = json!({"n": 5, "s": "b", "t": "2026-01-01T00:00:00Z", "b": true, "m": 7});
        let t = |rule: Value| eval(rule, input.clone()).unwrap();
        assert!(t(json!({"Variable": "$.n", "NumericEquals": 5})));
        assert!(t(json!({"Variable": "$.n", "NumericLessThan": 5.5})));
        assert!(t(json!({"Variable": "$.n", "NumericGreaterThanEquals": 5})));
        assert!(!t(json!({"Variable": "$.n", "NumericGreaterThan": 5})));
        assert!(t(json!({"Variable": "$.n", "NumericLessThanPath": "$.m"})));
        assert!(t(json!({"Variable": "$.s", "StringGreaterThan": "a"})));
        assert!(t(json!({"Variable": "$.s", "StringLessThanEquals": "b"})));
        assert!(t(json!({"Variable": "$.b", "BooleanEquals": true})));
        assert!(t(json!({"Variable": "$.t", "TimestampLessThan": "2026-01-01T00:00:01Z"})));
        assert!(t(json!({"Variable": "$.t", "TimestampEquals": "2026-01-01T01:00:00+01:00"})));
        // Mismatched types are false, not errors.
        assert!(!t(json!({"Variable": "$.s", "NumericEquals": 5})));
    }

    #[test]
    fn type_tests_and_combinators() {
        let input = json!({"x": null, "n": 1, "t": "2026-01-01T00:00:00Z"});
        let t = |rule: Value| eval(rule, input.clone()).unwrap();
        assert!(t(json!({"Variable": "$.x", "IsNull": true})));
        assert!(t(json!({"Variable": "$.missing", "IsPresent": false})));
        assert!(t(json!({"Variable": "$.t", "IsTimestamp": true})));
        assert!(t(json!({"Variable": "$.n", "IsString": false})));
        assert!(t(json!({"And": [{"Variable": "$.n", "IsNumeric": true}, {"Not": {"Variable": "$.x", "IsNull": false}}]})));
        assert!(t(json!({"Or": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.n", "NumericEquals": 1}]})));
    }

    #[test]
    fn missing_variable_is_a_runtime_error() {
        let err = eval(json!({"Variable": "$.nope", "NumericEquals": 1}), json!({})).unwrap_err();
        assert!(err.0.contains("$.nope"));
    }

    #[test]
    fn strings_order_by_utf16_code_units() {
        // U+1F600 is the surrogate pair D83D DE00: below U+FF21 in UTF-16 (as
        // in Java), above it by code point (as Rust's str ordering has it).
        let input = json!({"emoji": "\u{1F600}", "wide": "\u{FF21}"});
        let t = |rule: Value| eval(rule, input.clone()).unwrap();
        assert!(t(json!({"Variable": "$.emoji", "StringLessThan": "\u{FF21}"})));
        assert!(t(json!({"Variable": "$.wide", "StringGreaterThanPath": "$.emoji"})));
        assert!(!t(json!({"Variable": "$.emoji", "StringGreaterThanEquals": "\u{FF21}"})));
        assert!(t(json!({"Variable": "$.emoji", "StringLessThanEquals": "\u{1F600}"})));
        assert!(t(json!({"Variable": "$.wide", "StringLessThan": "\u{FF21}a"})));
    }

    #[test]
    fn timestamps_need_uppercase_t_and_z() {
        assert!(parse_timestamp("2026-01-01T00:00:00Z").is_some());
        assert!(parse_timestamp("2026-01-01T00:00:00.5+01:00").is_some());
        for bad in ["2026-01-01T00:00:00z", "2026-01-01t00:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01", "", "2026-01-01T25:00:00Z"] {
            assert!(parse_timestamp(bad).is_none(), "{bad:?}");
        }
        let input = json!({"lower": "2026-01-01T00:00:00z"});
        let t = |rule: Value| eval(rule, input.clone()).unwrap();
        assert!(!t(json!({"Variable": "$.lower", "TimestampEquals": "2026-01-01T00:00:00Z"})));
        assert!(t(json!({"Variable": "$.lower", "IsTimestamp": false})));
        let errors = parse_errors(json!({"Variable": "$.v", "TimestampEquals": "2026-01-01t00:00:00Z", "Next": "S"}));
        assert!(errors.iter().any(|e| e.starts_with("States.C.Choices[0].TimestampEquals: ")), "{errors:?}");
    }

    #[test]
    fn paths_must_be_reference_paths() {
        for (rule, location) in [
            (json!({"Variable": "$.items[*].id", "IsPresent": true, "Next": "S"}), "States.C.Choices[0].Variable: invalid path"),
            (json!({"Variable": "$..id", "IsNull": true, "Next": "S"}), "States.C.Choices[0].Variable: invalid path"),
            (json!({"Variable": "$.v", "StringEqualsPath": "$..id", "Next": "S"}), "States.C.Choices[0].StringEqualsPath: invalid path"),
            (
                json!({"Variable": "$.v", "NumericLessThanPath": "$.l[0:2]", "Next": "S"}),
                "States.C.Choices[0].NumericLessThanPath: invalid path",
            ),
            (json!({"Not": {"Variable": "$.a[?(@.b)]", "IsNull": true}, "Next": "S"}), "States.C.Choices[0].Not.Variable: invalid path"),
        ] {
            let errors = parse_errors(rule);
            assert!(errors.iter().any(|e| e.starts_with(location)), "{location}: {errors:?}");
        }
        for ok in [
            json!({"Variable": "$$.Execution.Name", "StringEquals": "x", "Next": "S"}),
            json!({"Variable": "$.v", "StringEqualsPath": "$$.State.Name", "Next": "S"}),
            json!({"Variable": "$['a b'][0]", "IsPresent": true, "Next": "S"}),
        ] {
            assert_eq!(parse_errors(ok.clone()), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn rules_read_the_context_object() {
        let context = json!({"Execution": {"Name": "run-1"}, "State": {"Name": "run-1", "RetryCount": 0}});
        let input = json!({"name": "run-1"});
        let parse = |rule: Value| {
            let mut errors = Vec::new();
            let c = Condition::parse(&rule, "R", false, &mut errors).unwrap_or_else(|| panic!("{errors:?}"));
            assert!(errors.is_empty(), "{errors:?}");
            c
        };
        let by_name = parse(json!({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}));
        assert!(by_name.reads_context());
        assert_eq!(by_name.evaluate(&input, &context), Ok(true));
        // Without a context object the path selects nothing: a runtime error.
        assert!(by_name.evaluate(&input, &Value::Null).unwrap_err().0.contains("$$.Execution.Name"));
        let operand = parse(json!({"Variable": "$.name", "StringEqualsPath": "$$.State.Name"}));
        assert!(operand.reads_context());
        assert_eq!(operand.evaluate(&input, &context), Ok(true));
        let nested = parse(
            json!({"And": [{"Variable": "$.name", "IsString": true}, {"Not": {"Variable": "$$.State.RetryCount", "NumericGreaterThan": 0}}]}),
        );
        assert!(nested.reads_context());
        assert_eq!(nested.evaluate(&input, &context), Ok(true));
        assert!(parse(json!({"Variable": "$.missing", "IsPresent": false})).evaluate(&input, &Value::Null).unwrap());
        assert!(!parse(json!({"Or": [{"Variable": "$.name", "StringEqualsPath": "$.name"}]})).reads_context());
        assert!(parse(json!({"Variable": "$$.Nope", "IsPresent": false})).evaluate(&input, &context).unwrap());
    }

    #[test]
    fn string_matching() {
        assert!(string_matches("log-2026.txt", "log-*.txt"));
        assert!(string_matches("anything", "*"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("aaa", "a*a*a"));
        assert!(!string_matches("ab", "a*c"));
        assert!(string_matches("", "*"));
    }

    /// The matcher this module had before: greedy, backtracking to the last
    /// star (time up to text × pattern); the oracle for the linear one.
    fn backtracking_matches(text: &str, pattern: &str) -> bool {
        #[derive(PartialEq)]
        enum Tok {
            Star,
            Char(char),
        }
        let mut toks = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => toks.push(Tok::Char(chars.next().unwrap_or('\\'))),
                '*' => toks.push(Tok::Star),
                c => toks.push(Tok::Char(c)),
            }
        }
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut p) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match toks.get(p) {
                Some(Tok::Star) => {
                    backtrack = Some((p, t));
                    p += 1;
                }
                Some(Tok::Char(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match backtrack {
                    Some((bp, bt)) => {
                        p = bp + 1;
                        t = bt + 1;
                        backtrack = Some((bp, bt + 1));
                    }
                    None => return false,
                },
            }
        }
        toks[p..].iter().all(|tok| *tok == Tok::Star)
    }

    #[test]
    fn linear_matching_agrees_with_backtracking_on_random_inputs() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as usize
        };
        // Few letters, so that runs recur and overlap; stars, escapes and a
        // character of several UTF-8 bytes.
        let text_chars = ['a', 'b', '*', '\\', 'é'];
        let pattern_chars = ['a', 'b', '*', '*', '\\', 'é'];
        let mut matched = 0;
        for _ in 0..200_000 {
            let text: String = (0..next(9)).map(|_| text_chars[next(text_chars.len() as u64)]).collect();
            let pattern: String = (0..next(7)).map(|_| pattern_chars[next(pattern_chars.len() as u64)]).collect();
            let expected = backtracking_matches(&text, &pattern);
            assert_eq!(string_matches(&text, &pattern), expected, "text {text:?}, pattern {pattern:?}");
            matched += usize::from(expected);
        }
        assert!(matched > 10_000, "the random cases should match often enough to test something: {matched}");
    }

    #[test]
    fn long_texts_and_patterns_match_in_linear_time() {
        // 200 KB of text, 2 KB patterns: backtracking retries the whole run
        // at each of the 200,000 places of the text, 4 * 10^8 character
        // steps per case (a Choice rule can hold thousands of such cases).
        // The linear matcher reads the text a few times.
        let text = "a".repeat(200_000);
        let run = "a".repeat(2_000);
        assert!(!string_matches(&text, &format!("*{run}b")));
        assert!(!string_matches(&text, &format!("*{run}b*")));
        assert!(string_matches(&text, &format!("*{run}*{run}")));
        assert!(string_matches(&text, &format!("{run}*{run}*{run}")));
        let mut ends_in_b = text.clone();
        ends_in_b.push('b');
        assert!(string_matches(&ends_in_b, &format!("*{run}b")));
        assert!(!string_matches(&ends_in_b, &format!("*{run}\\*")));
    }

    #[test]
    fn bad_rules_are_located() {
        let mut errors = Vec::new();
        parse_rules(
            &json!([
                {"Variable": "$.a", "NumericEquals": "x", "Next": "S"},
                {"Variable": "$.a", "StringEqual": "x", "Next": "S"},
                {"And": [{"Variable": "$.a", "IsNull": true, "Next": "S"}], "Next": "S"},
                {"Variable": "$.a", "BooleanLessThan": true, "Next": "S"},
                {"Variable": "a", "IsNull": true, "Next": "S"},
                {"Variable": "$.a", "IsNull": true}
            ]),
            "States.C.Choices",
            false,
            &mut errors,
        );
        let got: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(got[0].starts_with("States.C.Choices[0].NumericEquals: "), "{got:?}");
        assert!(got.iter().any(|e| e.starts_with("States.C.Choices[1].StringEqual: unknown field")), "{got:?}");
        assert!(got.iter().any(|e| e.starts_with("States.C.Choices[2].And[0].Next: ")), "{got:?}");
        assert!(got.iter().any(|e| e.starts_with("States.C.Choices[3].BooleanLessThan: unknown field")), "{got:?}");
        assert!(got.iter().any(|e| e.starts_with("States.C.Choices[4].Variable: invalid path")), "{got:?}");
        assert!(got.iter().any(|e| e == "States.C.Choices[5]: a top-level choice rule needs Next"), "{got:?}");
    }
}
