;; A kv reader of many distinct keys: `handle` calls `stepwasm:task/kv@0.1.0`'s
;; `get` in a loop, each time with a new 1 KiB key (8 letters counting the
;; reads, then 'k's), up to 2,000,000 reads (about 120 M instructions, so the
;; default fuel ends it near 1.6 M). The host remembers every distinct key
;; read for the commit's conflict check: without a cap on that read set this
;; is 1.6 GiB of host memory from one invocation; with it, the invocation ends
;; at the cap, failed with the limit as its cause. A read the host refuses
;; ends the loop with a KvRefused task error carrying the host's message; a
;; loop that finishes returns `null`.
;;
;; The memory and allocator module, and the lowering of `get`, are those of
;; kv_get.wat.
(component
  (import "stepwasm:task/kv@0.1.0" (instance $kv
    (export "get" (func (param "key" string) (result (result (option string) (error string)))))))

  (core module $mem
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "cabi_realloc")
          (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $at) (local.get $size)))
      (memory.copy (local.get $at) (local.get $old) (local.get $old_size))
      (local.get $at)))
  (core instance $mi (instantiate $mem))

  (alias export $kv "get" (func $get))
  ;; get(key ptr, key len, return area): result<option<string>, string> is
  ;; written to the return area: case byte at +0; ok: option case at +4,
  ;; string at +8/+12; err: string at +4/+8.
  (core func $get' (canon lower (func $get) (memory $mi "memory") (realloc (func $mi "cabi_realloc"))))

  (core module $m
    (import "mem" "memory" (memory 1))
    (import "kv" "get" (func $get (param i32 i32 i32)))
    (func (export "handle")
          (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (local $i i32) (local $k i32)
      ;; The key lives at 8192, clear of what the allocator hands out from 1024.
      (memory.fill (i32.const 8192) (i32.const 107) (i32.const 1024))
      (loop $next
        (local.set $k (i32.const 0))
        (loop $digits ;; key[k] = 'a' + nibble k of i
          (i32.store8 (i32.add (i32.const 8192) (local.get $k))
            (i32.add (i32.const 97)
              (i32.and (i32.shr_u (local.get $i) (i32.shl (local.get $k) (i32.const 2))) (i32.const 15))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $digits (i32.lt_u (local.get $k) (i32.const 8))))
        (call $get (i32.const 8192) (i32.const 1024) (i32.const 96))
        (if (i32.load8_u (i32.const 96))
          (then ;; err(message): a task error KvRefused with the message as cause
            (i32.store8 (i32.const 16) (i32.const 1))
            (i32.store (i32.const 20) (i32.const 72))
            (i32.store (i32.const 24) (i32.const 9))
            (i32.store (i32.const 28) (i32.load (i32.const 100)))
            (i32.store (i32.const 32) (i32.load (i32.const 104)))
            (return (i32.const 16))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 2000000))))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 88))
      (i32.store (i32.const 24) (i32.const 4))
      (i32.const 16))
    (data (i32.const 72) "KvRefused")
    (data (i32.const 88) "null"))
  (core instance $i (instantiate $m
    (with "mem" (instance $mi))
    (with "kv" (instance (export "get" (func $get'))))))

  (type $context' (record (field "execution-id" string) (field "state-name" string)
                          (field "attempt" u32) (field "task-token" (option string))))
  (type $task-error' (record (field "error" string) (field "cause" string)))
  (export $context "context" (type $context'))
  (export $task-error "task-error" (type $task-error'))
  (type $handle-type (func (param "input" string) (param "ctx" $context)
                           (result (result string (error $task-error)))))
  (func $handle (type $handle-type)
    (canon lift (core func $i "handle") (memory $mi "memory") (realloc (func $mi "cabi_realloc"))))
  (instance $handler
    (export "context" (type $context))
    (export "task-error" (type $task-error))
    (export "handle" (func $handle)))
  (export "stepwasm:task/handler@0.1.0" (instance $handler)))
