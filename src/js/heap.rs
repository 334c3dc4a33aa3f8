//! The npm engine's allocator (feature `npm`): power-of-two size classes, each with a free
//! list, carved from the wasm's memory as it grows.
//!
//! The engine holds a few kinds of values (the machine, strings, queued messages), freed and
//! made again at the same sizes, so a freed block is reused by the next allocation of its
//! class; nothing is ever returned to the memory (wasm memory cannot shrink). A block of
//! class `c` is `2^c` bytes and aligned to its size (to a page above that), so any layout
//! whose size and alignment fit the class fits any of its blocks. It is about 0.5 KB gzip
//! smaller than talc, the allocator it replaces, and at most doubles an allocation's size.
//!
//! The engine is single-threaded (built without atomics) and never calls out to JavaScript,
//! so no allocation starts while another is running.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

const PAGE: usize = 65_536;
/// Classes 3 (8 bytes, room for the free list's link) to 31 (2 GiB).
const CLASSES: usize = 32;

/// The allocator (see the module).
pub(crate) struct Heap(UnsafeCell<State>);

struct State {
    /// The first free block of each class (0: none); each free block's first word links the
    /// next.
    free: [usize; CLASSES],
    /// Where unused memory starts, and where the memory ends.
    next: usize,
    end: usize,
}

// SAFETY: the npm engine is built for wasm32 without atomics: one thread only.
unsafe impl Sync for Heap {}

impl Heap {
    /// An empty heap: it takes memory as it needs it.
    pub(crate) const fn new() -> Self {
        Heap(UnsafeCell::new(State {
            free: [0; CLASSES],
            next: 0,
            end: 0,
        }))
    }
}

/// The class of `layout`: `c` such that `2^c` is the smallest power of two at least its size,
/// its alignment and 8.
fn class(layout: Layout) -> usize {
    let size = layout.size().max(layout.align()).max(8);
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

impl State {
    /// A new block of class `c` from the unused memory, growing the memory when it runs out.
    fn carve(&mut self, c: usize) -> *mut u8 {
        let size = 1usize << c;
        let align = size.min(PAGE);
        // Nothing else in the engine grows the memory; should something have, start after it.
        // (A 4 GiB memory's size does not fit in a wasm32 usize: no more blocks then.)
        let Some(memory) = wasm32::memory_size(0).checked_mul(PAGE) else {
            return ptr::null_mut();
        };
        if self.end != memory {
            self.next = memory;
            self.end = memory;
        }
        let Some(start) = self.next.checked_add(align - 1).map(|n| n & !(align - 1)) else {
            return ptr::null_mut();
        };
        let Some(end) = start.checked_add(size) else {
            return ptr::null_mut();
        };
        if end > self.end {
            let pages = (end - self.end).div_ceil(PAGE);
            let Some(grown) = pages
                .checked_mul(PAGE)
                .and_then(|b| self.end.checked_add(b))
            else {
                return ptr::null_mut();
            };
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return ptr::null_mut();
            }
            self.end = grown;
        }
        self.next = end;
        start as *mut u8
    }
}

// SAFETY: every block handed out is `2^class` bytes, aligned to its size (or a page), and
// either fresh memory or a block freed to the same class; a block is on at most one free list
// and never handed out twice while live.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let c = class(layout);
        // SAFETY: one thread, and no allocation runs inside another (see the module).
        let state = unsafe { &mut *self.0.get() };
        let Some(list) = state.free.get_mut(c) else {
            return ptr::null_mut(); // over 2 GiB
        };
        let head = *list;
        if head == 0 {
            return state.carve(c);
        }
        // SAFETY: `head` is a free block of this class, its first word the link written by
        // `dealloc`.
        *list = unsafe { *(head as *const usize) };
        head as *mut u8
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.0.get() };
        // `block` was allocated with `layout`: its class is one of the lists.
        if let Some(head) = state.free.get_mut(class(layout)) {
            // SAFETY: `block` is a block of this class (at least 8 bytes, aligned to 8), no
            // longer in use: its first word holds the link.
            unsafe { *(block as *mut usize) = *head };
            *head = block as usize;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        // SAFETY: the caller's promise: `size` with `layout`'s alignment is a valid layout.
        let new = unsafe { Layout::from_size_align_unchecked(size, layout.align()) };
        if class(new) == class(layout) {
            return block; // the block has room already
        }
        // SAFETY: `new` is a valid layout of non-zero size (the caller's promise).
        let moved = unsafe { self.alloc(new) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe { ptr::copy_nonoverlapping(block, moved, layout.size().min(size)) };
            // SAFETY: `block` was allocated with `layout` and is no longer used.
            unsafe { self.dealloc(block, layout) };
        }
        moved
    }
}
