;; A core module instead of a component: the same code as echo.wat's inner
;; module, never wrapped in a component, so it has no typed `handle` export
;; and no world at all. The host must refuse it by what it is.
(module
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
        (param i32 i32 i32 i32 i32 i32 i32 i32)
        (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $input))
    (i32.store (i32.const 24) (local.get $input_len))
    (i32.const 16)))
