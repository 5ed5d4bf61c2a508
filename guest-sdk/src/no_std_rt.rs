//! What Rust's std would otherwise supply to a component built without it
//! (wasm32, no `std` feature): the global allocator and the panic handler.
//! Neither needs WASI, so the component imports only `stepwasm:task`.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::{memory_grow, memory_size};
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use dlmalloc::Dlmalloc;

// core and serde call `memcmp` (and may call the other mem* functions), which
// on wasm32-wasi compiler_builtins leaves to libc: take them from wasi-libc's
// archive, as std does. The linker pulls only the members used, pure
// functions that import nothing.
#[link(name = "c")]
extern "C" {}

/// The global allocator: dlmalloc (what std itself uses on wasm32) over
/// linear memory. See [`Pages`] for where its memory comes from.
#[global_allocator]
static ALLOCATOR: Heap = Heap(UnsafeCell::new({
    let mut heap = Dlmalloc::new_with_allocator(Pages);
    // Ask for memory in small steps: `Pages` hands out whole wasm pages
    // anyway, and a 64 KiB minimum would not fit in the initial memory's tail.
    heap.set_granularity(4096);
    heap
}));

/// A component instance runs one thread, so the heap needs no lock.
struct Heap(UnsafeCell<Dlmalloc<Pages>>);

unsafe impl Sync for Heap {}

unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).malloc(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).calloc(layout.size(), layout.align())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size)
    }
}

const WASM_PAGE: usize = 64 * 1024;

extern "C" {
    /// Where the linker ends the data and the stack: the rest of the initial
    /// memory is free.
    static __heap_base: u8;
}

/// Whether the initial memory's free tail has been handed to dlmalloc.
static TAIL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Memory for dlmalloc: first the free tail of the initial memory (from
/// `__heap_base` to its end; tens of KiB, as wasi-libc's malloc uses it too),
/// then pages from `memory.grow`, contiguous with it. A handler that fits in
/// the tail never grows its memory, which would cost the host a change of
/// page protection when the instance is created and again when its slot is
/// reused. Nothing is ever given back: the instance lives for one call.
struct Pages;

unsafe impl dlmalloc::Allocator for Pages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let failed = (ptr::null_mut(), 0, 0);
        let Some(end) = memory_size(0).checked_mul(WASM_PAGE) else { return failed };
        let start = if TAIL_TAKEN.swap(true, Ordering::Relaxed) {
            end
        } else {
            let base = ptr::addr_of!(__heap_base) as usize; // the address only
            base.checked_next_multiple_of(16).filter(|b| *b <= end).unwrap_or(end)
        };
        let free = end - start;
        if free >= size && free > 0 {
            return (start as *mut u8, free, 0);
        }
        let pages = (size - free).div_ceil(WASM_PAGE);
        let Some(grown) = pages.checked_mul(WASM_PAGE) else { return failed };
        let previous = memory_grow(0, pages);
        if previous == usize::MAX {
            return failed;
        }
        match previous.checked_mul(WASM_PAGE) {
            // The new pages follow the tail: hand both out as one region.
            Some(at) if at == end && end.checked_add(grown).is_some() => (start as *mut u8, free + grown, 0),
            // (Nothing else grows this memory, but if something did.)
            Some(at) if at.checked_add(grown).is_some() => (at as *mut u8, grown, 0),
            _ => failed,
        }
    }

    fn remap(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // A fresh instance's memory past its data is zero, and so are new pages.
        true
    }

    fn page_size(&self) -> usize {
        WASM_PAGE
    }
}

/// The canonical ABI's allocator, through which the host passes the input
/// (and the results of capability calls) into linear memory, owned by Rust
/// from then on. With std, wasi-libc defines it over `malloc`, which is also
/// std's allocator; here it must use the global allocator above, which frees
/// those strings. (wit-bindgen defines it only for targets without libc.)
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    use alloc::alloc::{alloc, realloc, Layout};
    let ptr = if old_len == 0 {
        if new_len == 0 {
            return align as *mut u8;
        }
        alloc(Layout::from_size_align_unchecked(new_len, align))
    } else {
        realloc(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len)
    };
    if ptr.is_null() {
        // Out of memory (the host's limiter has recorded the cap it refused).
        core::arch::wasm32::unreachable();
    }
    ptr
}

/// The longest panic line sent to the host (it cuts log lines at 1 KiB too).
const PANIC_LINE_BYTES: usize = 1024;

/// Set by the first panic: a panic while reporting one traps at once.
static PANICKING: AtomicBool = AtomicBool::new(false);

/// A line in a fixed buffer: formatting a panic must not allocate (the panic
/// may be the allocator failing). Longer text is cut on a char boundary.
struct Line {
    buf: [u8; PANIC_LINE_BYTES],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = PANIC_LINE_BYTES - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Writes `panicked at <file>:<line>:<col>: <message>` to the host's `log` at
/// level error, then traps (`unreachable`): the task fails with
/// `States.TaskFailed`, and the line is among the invocation's log lines.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if !PANICKING.swap(true, Ordering::Relaxed) {
        let mut line = Line { buf: [0; PANIC_LINE_BYTES], len: 0 };
        let _ = match info.location() {
            Some(at) => write!(line, "panicked at {}:{}:{}: {}", at.file(), at.line(), at.column(), info.message()),
            None => write!(line, "panicked: {}", info.message()),
        };
        // Only whole characters were copied, so this is valid UTF-8.
        if let Ok(text) = core::str::from_utf8(&line.buf[..line.len]) {
            crate::log::error(text);
        }
    }
    core::arch::wasm32::unreachable()
}
