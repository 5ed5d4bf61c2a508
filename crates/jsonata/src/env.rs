//! Variable scopes: a frame per block `( ... )` and per function call,
//! chained to the frame the block or function was defined in.

use super::value::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub(crate) struct Env {
    vars: RefCell<HashMap<String, Value>>,
    parent: Option<Rc<Env>>,
}

impl Env {
    pub fn new(parent: Option<Rc<Env>>) -> Env {
        Env { vars: RefCell::new(HashMap::new()), parent }
    }

    pub fn bind(&self, name: &str, value: Value) {
        self.vars.borrow_mut().insert(name.to_string(), value);
    }

    pub fn lookup(&self, name: &str) -> Option<Value> {
        let mut env = self;
        loop {
            if let Some(v) = env.vars.borrow().get(name) {
                return Some(v.clone());
            }
            env = env.parent.as_deref()?;
        }
    }

    pub fn parent(&self) -> Option<Rc<Env>> {
        self.parent.clone()
    }

    /// Forgets every binding: closures bound in their own frame form `Rc`
    /// cycles, which this breaks once an evaluation is over.
    pub fn clear(&self) {
        let drained: Vec<Value> = self.vars.borrow_mut().drain().map(|(_, v)| v).collect();
        drop(drained);
    }
}
