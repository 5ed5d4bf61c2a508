;; Unbounded memory growth in plain wasm: `handle` grows its memory a page at a
;; time until the host refuses (memory.grow returns -1), then gives up with
;; `unreachable`, as a Rust guest aborts when an allocation fails. It touches no
;; page, so it is cheap enough to run thousands of times.
;; (Everything else is echo.wat.)
(component
  (core module $m
    (memory (export "memory") 1)
    ;; Return area at 16..36; the allocator hands out memory from 1024 up.
    (global $next (mut i32) (i32.const 1024))
    (func (export "cabi_realloc")
          (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32) (local $end i32) (local $have i32)
      (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $at) (local.get $size)))
      (local.set $have (i32.shl (memory.size) (i32.const 16)))
      (if (i32.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 0xffff))
                                              (i32.const 16)))
                      (i32.const -1))
            (then unreachable))))
      (memory.copy (local.get $at) (local.get $old) (local.get $old_size))
      (global.set $next (local.get $end))
      (local.get $at))
    (func (export "handle")
          (param $input i32) (param $input_len i32)
          (param $execution_id i32) (param $execution_id_len i32)
          (param $state_name i32) (param $state_name_len i32)
          (param $attempt i32)
          (param $has_token i32) (param $token i32) (param $token_len i32)
          (result i32)
      (block $refused
        (loop $more
          (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
          (br $more)))
      unreachable))
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
