//! A little-endian reader over the file's bytes that never reads past the end: every take is
//! checked, and every count read from the file is checked against the bytes left before anything
//! is allocated for it.

use super::bad;
use crate::error::Result;
use crate::limits;

pub(super) struct Cursor<'a> {
    file: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(file: &'a str, bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            file,
            bytes,
            pos: 0,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes; `what` names the field for the error when the file ends first.
    pub fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(bad(
                self.file,
                format!(
                    "truncated: {} needs {n} bytes at offset {}, the file has {} left",
                    what(),
                    self.pos,
                    self.remaining()
                ),
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A count of items of at least `min_bytes` each: refused (`TooLarge`) over `max`, then
    /// unless that many could still fit in the bytes left, so no count taken from the file can
    /// make the reader allocate more than the file itself holds.
    pub fn count(
        &mut self,
        min_bytes: usize,
        max: u64,
        what: &dyn Fn() -> String,
    ) -> Result<usize> {
        let at = self.pos;
        let n = self.u64(what)?;
        if n > max {
            return Err(limits::too_large(
                self.file,
                &what(),
                n.checked_mul(min_bytes as u64),
                max.saturating_mul(min_bytes as u64),
                format!("{n} items (at offset {at}), at most {max} are accepted"),
            ));
        }
        let fits = (self.remaining() / min_bytes.max(1)) as u64;
        if n > fits {
            return Err(bad(
                self.file,
                format!(
                    "{} = {n} (at offset {at}) cannot fit in the {} bytes left ({min_bytes}+ bytes each)",
                    what(),
                    self.remaining()
                ),
            ));
        }
        Ok(n as usize)
    }

    /// A metadata string value: [`Cursor::string`] under the memory cap
    /// [`limits::MAX_GGUF_STRING_BYTES`], whose excess is `TooLarge` (the spec's own maximums,
    /// for keys and tensor names, are format errors).
    pub fn value_string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let at = self.pos;
        let n = u64::from_le_bytes(self.array::<8>(&|| format!("the length of {}", what()))?);
        let max = limits::MAX_GGUF_STRING_BYTES as u64;
        if n > max {
            return Err(limits::too_large(
                self.file,
                &what(),
                Some(n),
                max,
                format!("a string (at offset {at})"),
            ));
        }
        self.pos = at;
        self.string(usize::MAX, what)
    }

    /// A GGUF string: u64 byte length, then UTF-8 bytes (no terminator), at most `max` bytes.
    pub fn string(&mut self, max: usize, what: &dyn Fn() -> String) -> Result<String> {
        let at = self.pos;
        let n = self.u64(&|| format!("the length of {}", what()))?;
        if n > max as u64 {
            return Err(bad(
                self.file,
                format!(
                    "{} is {n} bytes long (at offset {at}), more than the {max} allowed",
                    what()
                ),
            ));
        }
        if n > self.remaining() as u64 {
            return Err(bad(
                self.file,
                format!(
                    "truncated: {} is {n} bytes long (at offset {at}), the file has {} left",
                    what(),
                    self.remaining()
                ),
            ));
        }
        let raw = self.take(n as usize, what)?;
        String::from_utf8(raw.to_vec()).map_err(|e| {
            bad(
                self.file,
                format!("{} (at offset {at}) is not valid UTF-8: {e}", what()),
            )
        })
    }
}
