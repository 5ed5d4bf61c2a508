;; A loop inside the start function: the core module's `(start)` spins forever,
;; so the component never finishes instantiating and `handle` is never reached.
;; Fuel and the wall clock apply from the first instruction of instantiation.
(component
  (core module $m
    (memory (export "memory") 1)
    (func $spin
      (loop $forever (br $forever)))
    (start $spin)
    (global $next (mut i32) (i32.const 1024))
    (func (export "cabi_realloc")
          (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (local.get $size)))
      (local.get $at))
    (func (export "handle")
          (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 64))
      (i32.store (i32.const 24) (i32.const 4))
      (i32.const 16))
    (data (i32.const 64) "null"))
  (core instance $i (instantiate $m))

  (type $context' (record (field "execution-id" string) (field "state-name" string)
                          (field "attempt" u32) (field "task-token" (option string))))
  (type $task-error' (record (field "error" string) (field "cause" string)))
  (export $context "context" (type $context'))
  (export $task-error "task-error" (type $task-error'))
  (type $handle-type (func (param "input" string) (param "ctx" $context)
                           (result (result string (error $task-error)))))
  (func $handle (type $handle-type)
    (canon lift (core func $i "handle") (memory $i "memory") (realloc (func $i "cabi_realloc"))))
  (instance $handler
    (export "context" (type $context))
    (export "task-error" (type $task-error))
    (export "handle" (func $handle)))
  (export "stepwasm:task/handler@0.1.0" (instance $handler)))
