;; Opening a socket: `handle` reads a port number (its input is the bare JSON
;; number), asks wasi:sockets for a TCP socket and, if it gets one, starts
;; connecting to 127.0.0.1:<port>. It reports what it got, as JSON:
;;   {"created":false,"error":N}            create-tcp-socket failed with error-code N
;;   {"created":true,"connect_error":N}      start-connect failed with N
;;   {"created":true,"connect_error":null}   the connection was started
;; (error-code N counts from 0: unknown, access-denied, not-supported, ...).
;;
;; Written against wasi:sockets directly: std::net does not link with the
;; Debian guest toolchain's wasi-libc, and this is the layer the host controls.
;; The memory and allocator live in their own module ($mem) so the socket
;; functions can be lowered (they write results to memory) before the main
;; module is instantiated.
(component
  (import "wasi:sockets/network@0.2.0" (instance $network
    (export "network" (type (sub resource)))
    (type $ec (enum "unknown" "access-denied" "not-supported" "invalid-argument"
                    "out-of-memory" "timeout" "concurrency-conflict" "not-in-progress"
                    "would-block" "invalid-state" "new-socket-limit" "address-not-bindable"
                    "address-in-use" "remote-unreachable" "connection-refused"
                    "connection-reset" "connection-aborted" "datagram-too-large"
                    "name-unresolvable" "temporary-resolver-failure"
                    "permanent-resolver-failure"))
    (export "error-code" (type (eq $ec)))
    (type $family (enum "ipv4" "ipv6"))
    (export "ip-address-family" (type (eq $family)))
    (type $v4 (record (field "port" u16) (field "address" (tuple u8 u8 u8 u8))))
    (export "ipv4-socket-address" (type $v4' (eq $v4)))
    (type $v6 (record (field "port" u16) (field "flow-info" u32)
                      (field "address" (tuple u16 u16 u16 u16 u16 u16 u16 u16))
                      (field "scope-id" u32)))
    (export "ipv6-socket-address" (type $v6' (eq $v6)))
    (type $addr (variant (case "ipv4" $v4') (case "ipv6" $v6')))
    (export "ip-socket-address" (type (eq $addr)))))
  (alias export $network "network" (type $net))
  (alias export $network "error-code" (type $error-code))
  (alias export $network "ip-address-family" (type $family))
  (alias export $network "ip-socket-address" (type $addr))

  (import "wasi:sockets/instance-network@0.2.0" (instance $instance-network
    (export "network" (type $n (eq $net)))
    (export "instance-network" (func (result (own $n))))))

  (import "wasi:sockets/tcp@0.2.0" (instance $tcp
    (export "network" (type $n (eq $net)))
    (export "error-code" (type $e (eq $error-code)))
    (export "ip-socket-address" (type $a (eq $addr)))
    (export "tcp-socket" (type $s (sub resource)))
    (export "[method]tcp-socket.start-connect"
      (func (param "self" (borrow $s)) (param "network" (borrow $n)) (param "remote-address" $a)
            (result (result (error $e)))))))
  (alias export $tcp "tcp-socket" (type $tcp-socket))

  (import "wasi:sockets/tcp-create-socket@0.2.0" (instance $tcp-create-socket
    (export "error-code" (type $e (eq $error-code)))
    (export "ip-address-family" (type $f (eq $family)))
    (export "tcp-socket" (type $s (eq $tcp-socket)))
    (export "create-tcp-socket" (func (param "address-family" $f) (result (result (own $s) (error $e)))))))

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

  (alias export $instance-network "instance-network" (func $instance-network))
  (alias export $tcp-create-socket "create-tcp-socket" (func $create-tcp-socket))
  (alias export $tcp "[method]tcp-socket.start-connect" (func $start-connect))
  (core func $instance-network' (canon lower (func $instance-network)))
  ;; create-tcp-socket(family, return area): case byte at +0, handle or error-code at +4.
  (core func $create-tcp-socket' (canon lower (func $create-tcp-socket) (memory $mi "memory")))
  ;; start-connect(self, network, 12 flat address slots, return area): case byte
  ;; at +0, error-code at +1.
  (core func $start-connect' (canon lower (func $start-connect) (memory $mi "memory")))

  (core module $m
    (import "mem" "memory" (memory 1))
    (import "sockets" "instance-network" (func $instance-network (result i32)))
    (import "sockets" "create-tcp-socket" (func $create-tcp-socket (param i32 i32)))
    (import "sockets" "start-connect"
      (func $start-connect (param i32 i32  i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32  i32)))

    ;; Writes the decimal digits of $n (0..99) at $at; returns how many.
    (func $digits (param $at i32) (param $n i32) (result i32)
      (if (result i32) (i32.lt_u (local.get $n) (i32.const 10))
        (then
          (i32.store8 (local.get $at) (i32.add (i32.const 48) (local.get $n)))
          (i32.const 1))
        (else
          (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
          (i32.store8 (i32.add (local.get $at) (i32.const 1))
                      (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
          (i32.const 2))))

    ;; Ok(output) where the output is the $len bytes at 256.
    (func $respond (param $len i32) (result i32)
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 256))
      (i32.store (i32.const 24) (local.get $len))
      (i32.const 16))

    (func (export "handle")
          (param $input i32) (param $input_len i32)
          (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (local $port i32) (local $i i32) (local $c i32) (local $socket i32) (local $len i32)
      ;; The port: the input's leading decimal digits.
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $input_len)))
          (local.set $c (i32.sub (i32.load8_u (i32.add (local.get $input) (local.get $i))) (i32.const 48)))
          (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
          (local.set $port (i32.add (i32.mul (local.get $port) (i32.const 10)) (local.get $c)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))

      ;; create-tcp-socket(ipv4)
      (call $create-tcp-socket (i32.const 0) (i32.const 64))
      (if (i32.load8_u (i32.const 64))
        (then
          (memory.copy (i32.const 256) (i32.const 128) (i32.const 25)) ;; {"created":false,"error":
          (local.set $len (i32.add (i32.const 25)
                                   (call $digits (i32.const 281) (i32.load8_u (i32.const 68)))))
          (i32.store8 (i32.add (i32.const 256) (local.get $len)) (i32.const 125)) ;; }
          (return (call $respond (i32.add (local.get $len) (i32.const 1))))))
      (local.set $socket (i32.load (i32.const 68)))

      ;; start-connect(socket, instance-network(), ipv4(port, 127.0.0.1))
      (call $start-connect (local.get $socket) (call $instance-network)
        (i32.const 0) (local.get $port) (i32.const 127) (i32.const 0) (i32.const 0) (i32.const 1)
        (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
        (i32.const 80))
      (memory.copy (i32.const 256) (i32.const 160) (i32.const 32)) ;; {"created":true,"connect_error":
      (if (i32.load8_u (i32.const 80))
        (then
          (local.set $len (i32.add (i32.const 32)
                                   (call $digits (i32.const 288) (i32.load8_u (i32.const 81))))))
        (else
          (memory.copy (i32.const 288) (i32.const 192) (i32.const 4)) ;; null
          (local.set $len (i32.const 36))))
      (i32.store8 (i32.add (i32.const 256) (local.get $len)) (i32.const 125)) ;; }
      (call $respond (i32.add (local.get $len) (i32.const 1))))

    (data (i32.const 128) "{\"created\":false,\"error\":")
    (data (i32.const 160) "{\"created\":true,\"connect_error\":")
    (data (i32.const 192) "null"))
  (core instance $i (instantiate $m
    (with "mem" (instance $mi))
    (with "sockets" (instance
      (export "instance-network" (func $instance-network'))
      (export "create-tcp-socket" (func $create-tcp-socket'))
      (export "start-connect" (func $start-connect'))))))

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
