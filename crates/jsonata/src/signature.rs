//! Function signatures (`<s-nn?:s>`): parsed once, then used to check and
//! fix up the arguments of every call, exactly as jsonata-js does it: each
//! argument becomes a one-letter symbol and the string of symbols is matched
//! against a regular expression built from the signature. A `-` parameter
//! takes the context value when its argument is left out; an `a` parameter
//! wraps a lone value into a one-item array.

use super::error::{err, JsonataError};
use super::value::Value;

#[derive(Debug, Clone)]
struct Param {
    /// The parameter's type letter (`s`, `n`, `a`, `(sf)`, ...).
    kind: String,
    regex: String,
    /// Item type of an `a<...>` parameter.
    subtype: Option<String>,
    /// `-`: the context value stands in for a missing argument.
    context: Option<regex::Regex>,
}

#[derive(Debug, Clone)]
pub(crate) struct Signature {
    params: Vec<Param>,
    regex: regex::Regex,
}

fn symbol(v: &Value) -> char {
    match v {
        Value::Function(_) => 'f',
        Value::String(_) => 's',
        Value::Number(_) => 'n',
        Value::Bool(_) => 'b',
        Value::Null => 'l',
        Value::Array(..) => 'a',
        Value::Object(_) => 'o',
        Value::Undefined => 'm',
    }
}

fn closing(sig: &[char], start: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 1;
    for (i, c) in sig.iter().enumerate().skip(start + 1) {
        if *c == open {
            depth += 1;
        } else if *c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

impl Signature {
    /// Parses `<...>`; the return type after `:` is ignored.
    pub fn parse(text: &str) -> Result<Signature, JsonataError> {
        let sig: Vec<char> = text.chars().collect();
        let bad = |m: &str| JsonataError::new("S0401", format!("Invalid function signature {text}: {m}"));
        if sig.first() != Some(&'<') || sig.last() != Some(&'>') {
            return Err(bad("must be enclosed in < >"));
        }
        let mut params: Vec<Param> = Vec::new();
        let mut i = 1;
        while i < sig.len() - 1 {
            let c = sig[i];
            match c {
                ':' => break,
                's' | 'n' | 'b' | 'l' | 'o' => params.push(Param::new(c.to_string(), format!("[{c}m]"))),
                'a' | 'x' => params.push(Param::new(c.to_string(), "[asnblfom]".into())),
                'f' => params.push(Param::new("f".into(), "f".into())),
                'j' => params.push(Param::new("j".into(), "[asnblom]".into())),
                '-' | '?' | '+' => {
                    let p = params.last_mut().ok_or_else(|| bad("modifier without a parameter"))?;
                    if c == '-' {
                        p.context = Some(regex::Regex::new(&format!("^{}$", p.regex)).map_err(|_| bad("bad type"))?);
                        p.regex.push('?');
                    } else {
                        p.regex.push(c);
                    }
                }
                '(' => {
                    let end = closing(&sig, i, '(', ')').ok_or_else(|| bad("unclosed ("))?;
                    let choice: String = sig[i + 1..end].iter().collect();
                    if choice.contains('<') || !choice.chars().all(|c| "snbloafjx".contains(c)) {
                        return Err(bad("unsupported choice type"));
                    }
                    params.push(Param::new(format!("({choice})"), format!("[{choice}m]")));
                    i = end;
                }
                '<' => {
                    let end = closing(&sig, i, '<', '>').ok_or_else(|| bad("unclosed <"))?;
                    let p = params.last_mut().filter(|p| p.kind == "a" || p.kind == "f");
                    let p = p.ok_or_else(|| bad("type parameters apply only to a and f"))?;
                    p.subtype = Some(sig[i + 1..end].iter().collect());
                    i = end;
                }
                _ => return Err(bad(&format!("unknown type {c}"))),
            }
            i += 1;
        }
        let pattern: String = params.iter().map(|p| format!("({})", p.regex)).collect();
        let regex = regex::Regex::new(&format!("^{pattern}$")).map_err(|_| bad("bad pattern"))?;
        Ok(Signature { params, regex })
    }

    /// Checks `args` and returns them fixed up (context inserted, singletons
    /// wrapped into arrays). `name` is for the error message.
    pub fn validate(&self, name: &str, args: Vec<Value>, context: &Value) -> Result<Vec<Value>, JsonataError> {
        let supplied: String = args.iter().map(symbol).collect();
        let Some(caps) = self.regex.captures(&supplied) else {
            return Err(self.mismatch(name, &supplied));
        };
        let mut out = Vec::with_capacity(self.params.len());
        let mut args = args.into_iter();
        let mut index = 0;
        for (pi, param) in self.params.iter().enumerate() {
            let matched = caps.get(pi + 1).map(|m| m.as_str()).unwrap_or("");
            if matched.is_empty() {
                // An optional parameter that was not supplied stays out;
                // a `-` one takes the context value.
                if let Some(ctx_re) = &param.context {
                    if !ctx_re.is_match(&symbol(context).to_string()) {
                        return err(
                            "T0411",
                            format!("Context value is not a compatible type with argument {} of function {name}", index + 1),
                        );
                    }
                    out.push(context.clone());
                }
                continue;
            }
            for single in matched.chars() {
                let arg = args.next().unwrap_or(Value::Undefined);
                index += 1;
                if param.kind != "a" {
                    out.push(arg);
                    continue;
                }
                if single == 'm' {
                    out.push(Value::Undefined);
                    continue;
                }
                if let Some(sub) = &param.subtype {
                    let first = sub.chars().next().unwrap_or('x');
                    let ok = match &arg {
                        Value::Array(a, _) => a.items.iter().all(|v| symbol(v) == first || first == 'x'),
                        other => symbol(other) == first || first == 'x',
                    };
                    if !ok {
                        return err("T0412", format!("Argument {index} of function {name} must be an array of {}", type_word(first)));
                    }
                }
                out.push(match arg {
                    a @ Value::Array(..) => a,
                    other => Value::array(vec![other]),
                });
            }
        }
        Ok(out)
    }

    fn mismatch(&self, name: &str, supplied: &str) -> JsonataError {
        // Find the first argument that no longer fits the signature.
        let mut partial = String::from("^");
        let mut good_to = 0;
        for p in &self.params {
            partial.push_str(&p.regex);
            match regex::Regex::new(&partial).ok().and_then(|r| r.find(supplied).map(|m| m.end())) {
                Some(end) => good_to = end,
                None => break,
            }
        }
        JsonataError::new("T0410", format!("Argument {} of function {name} does not match function signature", good_to + 1))
    }
}

impl Param {
    fn new(kind: String, regex: String) -> Param {
        Param { kind, regex, subtype: None, context: None }
    }
}

fn type_word(c: char) -> &'static str {
    match c {
        's' => "strings",
        'n' => "numbers",
        'b' => "booleans",
        'o' => "objects",
        'a' => "arrays",
        'f' => "functions",
        _ => "values",
    }
}
