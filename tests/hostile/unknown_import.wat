;; An import no host provides: the handler calls `open-door` from
;; `acme:backdoor/door@1.0.0` before doing its work. The module must be
;; refused when it is loaded, never instantiated.
(component
  (import "acme:backdoor/door@1.0.0" (instance $door
    (export "open-door" (func (result u32)))))
  (alias export $door "open-door" (func $open-door))
  (core func $open-door' (canon lower (func $open-door)))

  (core module $m
    (import "door" "open-door" (func $open-door (result i32)))
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "cabi_realloc")
          (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (local.get $size)))
      (local.get $at))
    (func (export "handle")
          (param $input i32) (param $input_len i32)
          (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (drop (call $open-door))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (local.get $input))
      (i32.store (i32.const 24) (local.get $input_len))
      (i32.const 16)))
  (core instance $i (instantiate $m
    (with "door" (instance (export "open-door" (func $open-door'))))))

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
