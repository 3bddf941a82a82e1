//! Strings across the boundary: borrowed ([`OcStr`]) and plugin-allocated, host-owned
//! ([`OcOwnedStr`]). Both are UTF-8, pointer + length, never NUL-terminated.

use abi_stable::StableAbi;

/// A borrowed UTF-8 string: pointer + length in bytes, not NUL-terminated.
///
/// Ownership: never owned by the receiver. Lifetime: as stated by the function or struct
/// that hands it over. A `len` of 0 may come with a null `ptr`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct OcStr {
    /// First byte, or null when `len` is 0.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl OcStr {
    /// Borrows `s` for as long as `s` lives; the caller keeps `s` alive while the `OcStr` is used.
    pub fn borrow(s: &str) -> OcStr {
        OcStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The empty string (null pointer, length 0).
    pub const fn empty() -> OcStr {
        OcStr {
            ptr: std::ptr::null(),
            len: 0,
        }
    }

    /// Reads the bytes as UTF-8.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid and unchanged for `'a`
    /// (or `len` must be 0).
    pub unsafe fn as_str<'a>(self) -> Result<&'a str, std::str::Utf8Error> {
        if self.len == 0 || self.ptr.is_null() {
            return Ok("");
        }
        // SAFETY: the caller guarantees `ptr..ptr+len` is readable for 'a.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes)
    }
}

/// A UTF-8 string allocated by the plugin and owned by the host.
///
/// Ownership: the host owns it and must give it back exactly once with
/// `OcSkillVTable::string_free` (never `free()`). Threads: any.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct OcOwnedStr {
    /// First byte, or null for the empty string.
    pub ptr: *mut u8,
    /// Length in bytes (also the allocation size).
    pub len: usize,
}

impl OcOwnedStr {
    /// The empty string; `string_free` accepts it and does nothing.
    pub const fn empty() -> OcOwnedStr {
        OcOwnedStr {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Leaks `s` into an owned C string; release with [`OcOwnedStr::into_string`] in the
    /// library that allocated it (the plugin's `string_free`).
    pub fn from_string(s: String) -> OcOwnedStr {
        if s.is_empty() {
            return OcOwnedStr::empty();
        }
        let boxed: Box<[u8]> = s.into_bytes().into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *mut u8;
        OcOwnedStr { ptr, len }
    }

    /// Takes the allocation back.
    ///
    /// # Safety
    /// `self` must come from [`OcOwnedStr::from_string`] **in this same library copy**
    /// (allocators are per `.so`) and must not have been released before.
    pub unsafe fn into_string(self) -> String {
        if self.ptr.is_null() {
            return String::new();
        }
        // SAFETY: ptr/len were produced by Box::into_raw of a Box<[u8]> of this length.
        let boxed =
            unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) };
        String::from_utf8(boxed.into_vec()).unwrap_or_default()
    }

    /// Borrows the contents.
    ///
    /// # Safety
    /// `self` must be a live string handed out by the plugin and not yet released.
    pub unsafe fn as_str(&self) -> &str {
        // SAFETY: forwarded to the caller's guarantee.
        unsafe {
            OcStr {
                ptr: self.ptr,
                len: self.len,
            }
            .as_str()
        }
        .unwrap_or("")
    }
}
