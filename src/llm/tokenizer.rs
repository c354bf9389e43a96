//! Byte-level BPE (GPT-2 style), built from a GGUF's `tokenizer.ggml.*` metadata, plus the
//! instruct chat template and a streaming decoder.
//!
//! Encoding, in order:
//! 1. **Added tokens.** Control tokens (`token_type` 3: `<|im_start|>`, `<|endoftext|>`, ...)
//!    are cut out of the text when the caller asks (`special = true`), user-defined ones
//!    (type 4) always; leftmost match first, the longest at a position.
//! 2. **Pre-tokenization** (`tokenizer.ggml.pre`). `smollm` (and the other names llama.cpp
//!    gives the same rules) isolates every `\p{N}` character, then splits each remaining run
//!    with GPT-2's regex
//!    `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
//!    `gpt-2` applies the regex alone. The regex is hand-coded as a linear scan (no regex
//!    engine; `(?!\S)` gives back one whitespace character so that a run of spaces leaves its
//!    last space to the word after it).
//! 3. **BPE** on each piece's UTF-8 bytes, every byte a token of its own to start with (GPT-2's
//!    byte↔unicode map names them; a byte the vocabulary lacks is dropped, as Hugging Face's
//!    BPE drops it), then the lowest-ranked adjacent pair merged, leftmost
//!    first, until no pair has a merge: a heap of candidate pairs over a linked list of
//!    symbols, O(n log n) per piece, so a 10,000-space run costs no more than 10,000 letters.
//!
//! Decoding maps each token back to bytes (through the byte map; added tokens are their text)
//! and holds an incomplete UTF-8 sequence until the bytes that complete it arrive
//! ([`StreamDecoder`]).

use crate::error::{Error, Result};
use crate::import::gguf::Gguf;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Normal,
    Unknown,
    /// Special: `<|im_start|>` and the like; recognised in text only when asked.
    Control,
    /// Added by the user: always recognised in text.
    UserDefined,
    Unused,
    Byte,
}

impl TokenKind {
    fn from_i64(t: i64) -> Option<TokenKind> {
        Some(match t {
            1 => TokenKind::Normal,
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            5 => TokenKind::Unused,
            6 => TokenKind::Byte,
            _ => return None,
        })
    }

    /// Added tokens are matched as whole strings in the text and decode to their own text.
    fn is_added(self) -> bool {
        matches!(self, TokenKind::Control | TokenKind::UserDefined)
    }
}

/// How text is cut into pieces before BPE (`tokenizer.ggml.pre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's regex.
    Gpt2,
    /// Every `\p{N}` character alone, then GPT-2's regex on what lies between (SmolLM2,
    /// StarCoder).
    Gpt2Digits,
}

impl PreTokenizer {
    /// The `tokenizer.ggml.pre` names llama.cpp maps to these rules.
    pub fn from_name(name: &str) -> Option<PreTokenizer> {
        match name {
            "gpt-2" | "gpt2" => Some(PreTokenizer::Gpt2),
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" => {
                Some(PreTokenizer::Gpt2Digits)
            }
            _ => None,
        }
    }
}

/// What a byte-level BPE tokenizer is made of, as a GGUF stores it (`tokenizer.ggml.*`).
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    /// Token texts by id, in GPT-2's byte-level form for normal tokens (`Ġthe`).
    pub tokens: Vec<String>,
    /// llama.cpp token types by id (1 normal, 3 control, 4 user-defined, ...); empty: all
    /// normal.
    pub token_types: Vec<i64>,
    /// `"left right"` pairs, highest priority first.
    pub merges: Vec<String>,
    /// `tokenizer.ggml.pre`.
    pub pre: String,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unknown: Option<u32>,
    pub padding: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`: whether prompts should start with `bos`.
    pub add_bos: bool,
    /// `tokenizer.chat_template` (Jinja source).
    pub chat_template: Option<String>,
}

/// A byte-level BPE tokenizer.
#[derive(Clone)]
pub struct Tokenizer {
    file: String,
    tokens: Vec<String>,
    kinds: Vec<TokenKind>,
    /// Decoded bytes of every token, back to back; token i is `bytes[offsets[i]..offsets[i+1]]`.
    bytes: Vec<u8>,
    offsets: Vec<usize>,
    ids: HashMap<String, u32>,
    /// Token id of each single byte (NONE: the vocabulary has none; the byte is dropped).
    byte_ids: [u32; 256],
    /// (left id, right id) → (rank, merged id).
    merges: HashMap<u64, (u32, u32), BuildHasherDefault<PairHasher>>,
    /// Added tokens: (text, id, is control), longest first.
    added: Vec<(String, u32, bool)>,
    /// Whether some added token starts with this byte.
    added_first: [bool; 256],
    pre: PreTokenizer,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unknown: Option<u32>,
    pub padding: Option<u32>,
    pub add_bos: bool,
    chat_template: Option<String>,
}

/// A multiply-shift hash for the (u32, u32) merge keys: SipHash's DoS resistance buys nothing
/// for keys taken from the model file, and this is several times faster.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        self.0 ^= self.0 >> 32;
    }
}

fn pair(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

/// GPT-2's byte ↔ unicode map: printable Latin-1 bytes stand for themselves, the other 68
/// bytes (controls, space, DEL, NBSP, soft hyphen) for U+0100.. in byte order.
fn byte_chars() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
        map[b as usize] = if printable {
            char::from_u32(b).expect("Latin-1")
        } else {
            next += 1;
            char::from_u32(next - 1).expect("U+0100..U+0143")
        };
    }
    map
}

/// The inverse of [`byte_chars`]: for each code point below U+0144, the byte it stands for
/// (−1 if none).
fn char_bytes(chars: &[char; 256]) -> [i16; 324] {
    let mut inv = [-1i16; 324];
    for (b, &c) in chars.iter().enumerate() {
        inv[c as usize] = b as i16;
    }
    inv
}

/// Sizes, not the vocabulary.
impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("file", &self.file)
            .field("vocab_size", &self.tokens.len())
            .field("merges", &self.merges.len())
            .field("added", &self.added.len())
            .field("pre", &self.pre)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Reads `tokenizer.ggml.*` (and `tokenizer.chat_template`) from a GGUF.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer> {
        g.require_str("tokenizer.ggml.model", "gpt2", "gpt2 (byte-level BPE)")?;
        let id = |key: &str| -> Result<Option<u32>> {
            match g.get(key) {
                None => Ok(None),
                Some(_) => g.get_usize(key, u32::MAX as usize).map(|v| Some(v as u32)),
            }
        };
        let token_types = match g.get("tokenizer.ggml.token_type") {
            None => Vec::new(),
            Some(_) => g
                .get_array("tokenizer.ggml.token_type")?
                .to_i64s()
                .ok_or_else(|| bad(g.file(), "tokenizer.ggml.token_type is not integers"))?,
        };
        let vocab = Vocab {
            tokens: g.get_strings("tokenizer.ggml.tokens")?.to_vec(),
            token_types,
            merges: g.get_strings("tokenizer.ggml.merges")?.to_vec(),
            pre: g.get_str("tokenizer.ggml.pre")?.into(),
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            unknown: id("tokenizer.ggml.unknown_token_id")?,
            padding: id("tokenizer.ggml.padding_token_id")?,
            add_bos: match g.get("tokenizer.ggml.add_bos_token") {
                None => false,
                Some(_) => g.get_bool("tokenizer.ggml.add_bos_token")?,
            },
            chat_template: match g.get("tokenizer.chat_template") {
                None => None,
                Some(_) => Some(g.get_str("tokenizer.chat_template")?.into()),
            },
        };
        Tokenizer::from_vocab(g.file(), vocab)
    }

    /// Builds the tokenizer from its parts; `file` names them in errors.
    pub fn from_vocab(file: &str, v: Vocab) -> Result<Tokenizer> {
        let n = v.tokens.len();
        if n == 0 || n > u32::MAX as usize {
            return Err(bad(file, &format!("the vocabulary has {n} tokens")));
        }
        let pre = PreTokenizer::from_name(&v.pre).ok_or_else(|| Error::Unsupported {
            what: format!("{file}: tokenizer.ggml.pre"),
            value: v.pre.clone(),
            expected: "smollm, starcoder, refact, command-r, codeshell or gpt-2".into(),
        })?;
        let kinds: Vec<TokenKind> = if v.token_types.is_empty() {
            vec![TokenKind::Normal; n]
        } else if v.token_types.len() != n {
            return Err(bad(
                file,
                &format!(
                    "tokenizer.ggml.token_type has {} entries for {n} tokens",
                    v.token_types.len()
                ),
            ));
        } else {
            v.token_types
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    TokenKind::from_i64(t).ok_or_else(|| {
                        bad(
                            file,
                            &format!("token {i} ({:?}) has unknown type {t}", v.tokens[i]),
                        )
                    })
                })
                .collect::<Result<_>>()?
        };
        for (what, id) in [
            ("bos", v.bos),
            ("eos", v.eos),
            ("unknown", v.unknown),
            ("padding", v.padding),
        ] {
            if let Some(id) = id.filter(|&id| id as usize >= n) {
                return Err(bad(
                    file,
                    &format!("the {what} token id {id} is outside the {n}-token vocabulary"),
                ));
            }
        }

        // Token text → id (the first id, should a text repeat).
        let mut ids = HashMap::with_capacity(n);
        for (i, t) in v.tokens.iter().enumerate() {
            ids.entry(t.clone()).or_insert(i as u32);
        }
        let chars = byte_chars();
        let inv = char_bytes(&chars);
        // A byte without a token (SmolLM2 has none for 21 bytes: some C0 controls and bytes
        // that never occur in UTF-8) is dropped when encoding, as Hugging Face's BPE does
        // without an unknown token; its neighbours then meet and may merge.
        let mut byte_ids = [NONE; 256];
        for (b, c) in chars.iter().enumerate() {
            if let Some(&id) = ids.get(c.to_string().as_str()) {
                byte_ids[b] = id;
            }
        }

        let mut merges = HashMap::with_capacity_and_hasher(v.merges.len(), Default::default());
        for (rank, m) in v.merges.iter().enumerate() {
            let mut parts = m.split(' ');
            let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(
                    file,
                    &format!("merge #{rank} {m:?} is not two tokens separated by one space"),
                ));
            };
            let find = |t: &str| {
                ids.get(t).copied().ok_or_else(|| {
                    bad(
                        file,
                        &format!("merge #{rank} {m:?}: {t:?} is not in the vocabulary"),
                    )
                })
            };
            let (a_id, b_id, ab) = (find(a)?, find(b)?, find(&format!("{a}{b}"))?);
            merges.entry(pair(a_id, b_id)).or_insert((rank as u32, ab));
        }

        // Decoded bytes: added tokens are their text; others go back through the byte map
        // (a token with a character outside it, which no byte-level vocabulary has, decodes
        // to its own UTF-8, as Hugging Face's ByteLevel decoder does).
        let mut bytes = Vec::new();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for (t, k) in v.tokens.iter().zip(&kinds) {
            let mapped: Option<Vec<u8>> = if k.is_added() {
                None
            } else {
                t.chars()
                    .map(|c| inv.get(c as usize).and_then(|&b| u8::try_from(b).ok()))
                    .collect()
            };
            match mapped {
                Some(m) => bytes.extend_from_slice(&m),
                None => bytes.extend_from_slice(t.as_bytes()),
            }
            offsets.push(bytes.len());
        }

        let mut added: Vec<(String, u32, bool)> = (0..n)
            .filter(|&i| kinds[i].is_added() && !v.tokens[i].is_empty())
            .map(|i| {
                (
                    v.tokens[i].clone(),
                    i as u32,
                    kinds[i] == TokenKind::Control,
                )
            })
            .collect();
        added.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let mut added_first = [false; 256];
        for (t, _, _) in &added {
            added_first[t.as_bytes()[0] as usize] = true;
        }

        Ok(Tokenizer {
            file: file.into(),
            tokens: v.tokens,
            kinds,
            bytes,
            offsets,
            ids,
            byte_ids,
            merges,
            added,
            added_first,
            pre,
            bos: v.bos,
            eos: v.eos,
            unknown: v.unknown,
            padding: v.padding,
            add_bos: v.add_bos,
            chat_template: v.chat_template,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre
    }

    /// The token's text as stored (byte-level form for normal tokens).
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(|s| s.as_str())
    }

    pub fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }

    /// The id of a token given in its stored form (`"<|im_end|>"`, `"Ġthe"`).
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// The bytes `id` decodes to.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        (i < self.tokens.len()).then(|| &self.bytes[self.offsets[i]..self.offsets[i + 1]])
    }

    /// Token ids of `text`. With `special`, control tokens written in the text
    /// (`<|im_start|>`) become their ids; without, they are tokenized as plain text.
    /// User-defined tokens are recognised either way. No BOS is added (see `add_bos`).
    pub fn encode(&self, text: &str, special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut scratch = Bpe::default();
        let mut rest = 0;
        let mut piece = |s: &str, out: &mut Vec<u32>| {
            self.pre_tokenize(s, |p| self.bpe(p.as_bytes(), &mut scratch, out))
        };
        if !self.added.is_empty() {
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if !self.added_first[b[i] as usize] {
                    i += 1;
                    continue;
                }
                let hit = self.added.iter().find(|(t, _, control)| {
                    (special || !control) && b[i..].starts_with(t.as_bytes())
                });
                match hit {
                    Some((t, id, _)) => {
                        piece(&text[rest..i], &mut out);
                        out.push(*id);
                        i += t.len();
                        rest = i;
                    }
                    None => i += 1,
                }
            }
        }
        piece(&text[rest..], &mut out);
        out
    }

    /// Text of `ids`; invalid UTF-8 (a token sequence cut inside a character) becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend_from_slice(self.bytes_of(id)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A decoder for tokens arriving one at a time.
    pub fn stream(&self) -> StreamDecoder<'_> {
        StreamDecoder {
            tok: self,
            pending: Vec::new(),
        }
    }

    fn bytes_of(&self, id: u32) -> Result<&[u8]> {
        self.token_bytes(id).ok_or_else(|| Error::DimOutOfRange {
            tensor: format!("{}: tokenizer", self.file),
            what: "token id".into(),
            value: id as u64,
            limit: format!("below the vocabulary size {}", self.tokens.len()),
        })
    }

    /// The chat template of the file, recognised (ChatML only, for now).
    pub fn chat_template(&self) -> Result<ChatTemplate> {
        let src = self.chat_template.as_deref().ok_or_else(|| {
            bad(
                &self.file,
                "the file has no tokenizer.chat_template; a chat needs one",
            )
        })?;
        ChatTemplate::parse(&self.file, src)
    }

    /// The pieces BPE works on, for text without added tokens: the pre-tokenizer's split.
    pub fn pre_tokens<'s>(&self, text: &'s str) -> Vec<&'s str> {
        let mut out = Vec::new();
        self.pre_tokenize(text, |p| out.push(p));
        out
    }

    /// Calls `f` on each pre-token of `s`.
    fn pre_tokenize<'s>(&self, s: &'s str, mut f: impl FnMut(&'s str)) {
        match self.pre {
            PreTokenizer::Gpt2 => gpt2_split(s, &mut f),
            PreTokenizer::Gpt2Digits => {
                let mut start = 0;
                for (i, c) in s.char_indices() {
                    if c.is_numeric() {
                        gpt2_split(&s[start..i], &mut f);
                        let end = i + c.len_utf8();
                        f(&s[i..end]);
                        start = end;
                    }
                }
                gpt2_split(&s[start..], &mut f);
            }
        }
    }

    /// BPE of one pre-token's bytes, appended to `out`.
    fn bpe(&self, piece: &[u8], s: &mut Bpe, out: &mut Vec<u32>) {
        s.id.clear();
        s.prev.clear();
        s.next.clear();
        s.heap.clear();
        s.id.extend(
            piece
                .iter()
                .map(|&b| self.byte_ids[b as usize])
                .filter(|&id| id != NONE),
        );
        let n = s.id.len();
        match n {
            0 => return,
            1 => return out.push(s.id[0]),
            _ => {}
        }
        for i in 0..n {
            s.prev.push(i.wrapping_sub(1) as u32);
            s.next.push(if i + 1 < n { i as u32 + 1 } else { NONE });
        }
        let rank = |a: u32, b: u32| self.merges.get(&pair(a, b)).copied();
        for i in 0..n - 1 {
            if let Some((r, _)) = rank(s.id[i], s.id[i + 1]) {
                s.heap.push(Candidate {
                    rank: r,
                    pos: i as u32,
                });
            }
        }
        while let Some(Candidate { rank: r, pos }) = s.heap.pop() {
            let i = pos as usize;
            let j = s.next[i];
            // Stale: i was merged into its left neighbour (DEAD), is last, or its pair changed.
            if s.id[i] == DEAD || j == NONE {
                continue;
            }
            let j = j as usize;
            let Some((r2, merged)) = rank(s.id[i], s.id[j]) else {
                continue;
            };
            if r2 != r {
                continue;
            }
            s.id[i] = merged;
            s.id[j] = DEAD;
            let k = s.next[j];
            s.next[i] = k;
            if k != NONE {
                s.prev[k as usize] = i as u32;
                if let Some((r, _)) = rank(merged, s.id[k as usize]) {
                    s.heap.push(Candidate {
                        rank: r,
                        pos: i as u32,
                    });
                }
            }
            let p = s.prev[i];
            if p != NONE {
                if let Some((r, _)) = rank(s.id[p as usize], merged) {
                    s.heap.push(Candidate { rank: r, pos: p });
                }
            }
        }
        let mut i = 0u32;
        while i != NONE {
            out.push(s.id[i as usize]);
            i = s.next[i as usize];
        }
    }
}

const NONE: u32 = u32::MAX;
const DEAD: u32 = u32::MAX;

/// Scratch space of one BPE run, reused across pre-tokens.
#[derive(Default)]
struct Bpe {
    id: Vec<u32>,
    prev: Vec<u32>,
    next: Vec<u32>,
    heap: BinaryHeap<Candidate>,
}

/// A pair (pos, next(pos)) that a merge of `rank` applies to; the heap pops the lowest rank,
/// then the leftmost position.
#[derive(PartialEq, Eq)]
struct Candidate {
    rank: u32,
    pos: u32,
}

impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.rank, o.pos).cmp(&(self.rank, self.pos))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

fn bad(file: &str, detail: &str) -> Error {
    Error::BadModel {
        file: file.into(),
        format: "GGUF tokenizer".into(),
        detail: detail.into(),
    }
}

// ---- GPT-2's pre-tokenizer regex -------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if is_letter(c) {
        Class::Letter
    } else if c.is_numeric() {
        Class::Number
    } else {
        Class::Other
    }
}

/// Splits `s` as GPT-2's regex
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` does: every
/// character belongs to exactly one alternative's class, so a match starts wherever the last
/// one ended and a single forward scan finds them all.
fn gpt2_split<'s>(s: &'s str, f: &mut impl FnMut(&'s str)) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let c = next_char(s, i);
        // 's 't 're 've 'm 'll 'd
        if c == '\'' {
            let len = match (b.get(i + 1), b.get(i + 2)) {
                (Some(b's' | b't' | b'm' | b'd'), _) => 2,
                (Some(b'r'), Some(b'e')) | (Some(b'v'), Some(b'e')) | (Some(b'l'), Some(b'l')) => 3,
                _ => 0,
            };
            if len > 0 {
                f(&s[i..i + len]);
                i += len;
                continue;
            }
        }
        // ` ?X+` for the class X of the character after an optional space
        let (start, lead) = if c == ' ' && i + 1 < s.len() {
            (i + 1, next_char(s, i + 1))
        } else {
            (i, c)
        };
        let cls = class(lead);
        if cls != Class::Space {
            let mut j = start + lead.len_utf8();
            while j < s.len() {
                let d = next_char(s, j);
                if class(d) != cls {
                    break;
                }
                j += d.len_utf8();
            }
            f(&s[i..j]);
            i = j;
            continue;
        }
        // \s+(?!\S) | \s+ : a whitespace run; unless it ends the text, its last character is
        // left to the next match (when the run has more than one).
        let mut j = i;
        let mut last = i;
        while j < s.len() {
            let d = next_char(s, j);
            if !d.is_whitespace() {
                break;
            }
            last = j;
            j += d.len_utf8();
        }
        let end = if j == s.len() || last == i { j } else { last };
        f(&s[i..end]);
        i = end;
    }
}

/// The character starting at byte `i` (a char boundary) of `s`.
fn next_char(s: &str, i: usize) -> char {
    s[i..].chars().next().unwrap_or('\0')
}

/// Unicode general category L (`\p{L}`).
pub fn is_letter(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        return (c as u8).is_ascii_alphabetic();
    }
    // The last range whose start is ≤ c, then whether c is within it.
    let starts = LETTERS.len() / 2;
    let (mut lo, mut hi) = (0, starts);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if LETTERS[2 * mid] <= c {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo > 0 && c <= LETTERS[2 * (lo - 1) + 1]
}

// ---- streaming decode ------------------------------------------------------------------------

/// Decodes tokens as they arrive, returning only complete characters: the bytes of a UTF-8
/// sequence split across tokens (an emoji is often 2–4 byte tokens) wait for the rest.
pub struct StreamDecoder<'t> {
    tok: &'t Tokenizer,
    pending: Vec<u8>,
}

impl StreamDecoder<'_> {
    /// The text that `id` completes (possibly empty). Bytes that can never become valid UTF-8
    /// come out as U+FFFD right away.
    pub fn push(&mut self, id: u32) -> Result<String> {
        self.pending.extend_from_slice(self.tok.bytes_of(id)?);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (ok, tail) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(ok).expect("valid prefix"));
                    match e.error_len() {
                        // Invalid bytes: replace them and go on.
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &tail[n..];
                        }
                        // An incomplete sequence at the end: keep it for the next token.
                        None => {
                            rest = tail;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        Ok(out)
    }

    /// Whatever is still held (an incomplete sequence at the end of the text), as U+FFFD.
    pub fn finish(self) -> String {
        String::from_utf8_lossy(&self.pending).into_owned()
    }
}

// ---- chat template ---------------------------------------------------------------------------

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A chat template recognised from its Jinja source. There is no Jinja engine here: the
/// template must be ChatML (`<|im_start|>{role}\n{content}<|im_end|>\n` per message, as
/// SmolLM2, Qwen and others use), optionally with a default system message put first when the
/// conversation has none; its text is read from the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    ChatMl { default_system: Option<String> },
}

impl ChatTemplate {
    /// Recognises `src` (a `tokenizer.chat_template`); `file` names it in errors.
    pub fn parse(file: &str, src: &str) -> Result<ChatTemplate> {
        let squeezed: String = src.chars().filter(|c| !c.is_whitespace()).collect();
        let chatml =
            "{{'<|im_start|>'+message['role']+'\\n'+message['content']+'<|im_end|>'+'\\n'}}";
        let generation = "{%ifadd_generation_prompt%}{{'<|im_start|>assistant\\n'}}{%endif%}";
        // The Jinja strings may escape their newlines (\n) or hold them, which the squeeze
        // removed along with all other whitespace.
        let has = |pat: &str| squeezed.contains(pat) || squeezed.contains(&pat.replace("\\n", ""));
        if !has(chatml) || !has(generation) {
            return Err(Error::Unsupported {
                what: format!("{file}: tokenizer.chat_template"),
                value: format!("{:?}", src.chars().take(120).collect::<String>()),
                expected: "a ChatML template (<|im_start|>role\\ncontent<|im_end|>\\n)".into(),
            });
        }
        // `{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...
        // <|im_end|>\n' }}{% endif %}`: the default system message's text.
        let mut default_system = None;
        if squeezed.contains("{%ifloop.firstandmessages[0]['role']!='system'%}") {
            let open = "'<|im_start|>system";
            let start = src.find(open).ok_or_else(|| {
                bad(
                    file,
                    "chat template: a default system message without its text",
                )
            })? + open.len();
            let end = src[start..].find("<|im_end|>").ok_or_else(|| {
                bad(
                    file,
                    "chat template: the default system message is not closed",
                )
            })? + start;
            let text = jinja_unescape(&src[start..end]);
            let text = text.strip_prefix('\n').ok_or_else(|| {
                bad(
                    file,
                    "chat template: the default system message lacks its newline",
                )
            })?;
            default_system = Some(text.to_string());
        }
        Ok(ChatTemplate::ChatMl { default_system })
    }

    /// The prompt for `messages`; with `add_generation_prompt`, ends with the assistant's
    /// header so that the model writes the reply. Tokenize it with `special = true`.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> String {
        let ChatTemplate::ChatMl { default_system } = self;
        let mut out = String::new();
        let turn = |out: &mut String, role: &str, content: &str| {
            out.push_str("<|im_start|>");
            out.push_str(role);
            out.push('\n');
            out.push_str(content);
            out.push_str("<|im_end|>\n");
        };
        if let Some(system) = default_system {
            if messages.first().is_some_and(|m| m.role != "system") {
                turn(&mut out, "system", system);
            }
        }
        for m in messages {
            turn(&mut out, &m.role, &m.content);
        }
        if add_generation_prompt {
            out.push_str("<|im_start|>assistant\n");
        }
        out
    }
}

/// A Jinja single-quoted string's escapes: \n \t \' \" \\.
fn jinja_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(e @ ('\'' | '"' | '\\')) => out.push(e),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    out
}

// ---- Unicode letters -------------------------------------------------------------------------

/// Unicode 14.0.0 general category L as inclusive ranges [lo0, hi0, lo1, hi1, ...]
/// (648 ranges), generated by tools/zoo/llm_unicode.py.
const LETTERS: [u32; 1296] = [
    0x00041, 0x0005A, 0x00061, 0x0007A, 0x000AA, 0x000AA, 0x000B5, 0x000B5, 0x000BA, 0x000BA,
    0x000C0, 0x000D6, 0x000D8, 0x000F6, 0x000F8, 0x002C1, 0x002C6, 0x002D1, 0x002E0, 0x002E4,
    0x002EC, 0x002EC, 0x002EE, 0x002EE, 0x00370, 0x00374, 0x00376, 0x00377, 0x0037A, 0x0037D,
    0x0037F, 0x0037F, 0x00386, 0x00386, 0x00388, 0x0038A, 0x0038C, 0x0038C, 0x0038E, 0x003A1,
    0x003A3, 0x003F5, 0x003F7, 0x00481, 0x0048A, 0x0052F, 0x00531, 0x00556, 0x00559, 0x00559,
    0x00560, 0x00588, 0x005D0, 0x005EA, 0x005EF, 0x005F2, 0x00620, 0x0064A, 0x0066E, 0x0066F,
    0x00671, 0x006D3, 0x006D5, 0x006D5, 0x006E5, 0x006E6, 0x006EE, 0x006EF, 0x006FA, 0x006FC,
    0x006FF, 0x006FF, 0x00710, 0x00710, 0x00712, 0x0072F, 0x0074D, 0x007A5, 0x007B1, 0x007B1,
    0x007CA, 0x007EA, 0x007F4, 0x007F5, 0x007FA, 0x007FA, 0x00800, 0x00815, 0x0081A, 0x0081A,
    0x00824, 0x00824, 0x00828, 0x00828, 0x00840, 0x00858, 0x00860, 0x0086A, 0x00870, 0x00887,
    0x00889, 0x0088E, 0x008A0, 0x008C9, 0x00904, 0x00939, 0x0093D, 0x0093D, 0x00950, 0x00950,
    0x00958, 0x00961, 0x00971, 0x00980, 0x00985, 0x0098C, 0x0098F, 0x00990, 0x00993, 0x009A8,
    0x009AA, 0x009B0, 0x009B2, 0x009B2, 0x009B6, 0x009B9, 0x009BD, 0x009BD, 0x009CE, 0x009CE,
    0x009DC, 0x009DD, 0x009DF, 0x009E1, 0x009F0, 0x009F1, 0x009FC, 0x009FC, 0x00A05, 0x00A0A,
    0x00A0F, 0x00A10, 0x00A13, 0x00A28, 0x00A2A, 0x00A30, 0x00A32, 0x00A33, 0x00A35, 0x00A36,
    0x00A38, 0x00A39, 0x00A59, 0x00A5C, 0x00A5E, 0x00A5E, 0x00A72, 0x00A74, 0x00A85, 0x00A8D,
    0x00A8F, 0x00A91, 0x00A93, 0x00AA8, 0x00AAA, 0x00AB0, 0x00AB2, 0x00AB3, 0x00AB5, 0x00AB9,
    0x00ABD, 0x00ABD, 0x00AD0, 0x00AD0, 0x00AE0, 0x00AE1, 0x00AF9, 0x00AF9, 0x00B05, 0x00B0C,
    0x00B0F, 0x00B10, 0x00B13, 0x00B28, 0x00B2A, 0x00B30, 0x00B32, 0x00B33, 0x00B35, 0x00B39,
    0x00B3D, 0x00B3D, 0x00B5C, 0x00B5D, 0x00B5F, 0x00B61, 0x00B71, 0x00B71, 0x00B83, 0x00B83,
    0x00B85, 0x00B8A, 0x00B8E, 0x00B90, 0x00B92, 0x00B95, 0x00B99, 0x00B9A, 0x00B9C, 0x00B9C,
    0x00B9E, 0x00B9F, 0x00BA3, 0x00BA4, 0x00BA8, 0x00BAA, 0x00BAE, 0x00BB9, 0x00BD0, 0x00BD0,
    0x00C05, 0x00C0C, 0x00C0E, 0x00C10, 0x00C12, 0x00C28, 0x00C2A, 0x00C39, 0x00C3D, 0x00C3D,
    0x00C58, 0x00C5A, 0x00C5D, 0x00C5D, 0x00C60, 0x00C61, 0x00C80, 0x00C80, 0x00C85, 0x00C8C,
    0x00C8E, 0x00C90, 0x00C92, 0x00CA8, 0x00CAA, 0x00CB3, 0x00CB5, 0x00CB9, 0x00CBD, 0x00CBD,
    0x00CDD, 0x00CDE, 0x00CE0, 0x00CE1, 0x00CF1, 0x00CF2, 0x00D04, 0x00D0C, 0x00D0E, 0x00D10,
    0x00D12, 0x00D3A, 0x00D3D, 0x00D3D, 0x00D4E, 0x00D4E, 0x00D54, 0x00D56, 0x00D5F, 0x00D61,
    0x00D7A, 0x00D7F, 0x00D85, 0x00D96, 0x00D9A, 0x00DB1, 0x00DB3, 0x00DBB, 0x00DBD, 0x00DBD,
    0x00DC0, 0x00DC6, 0x00E01, 0x00E30, 0x00E32, 0x00E33, 0x00E40, 0x00E46, 0x00E81, 0x00E82,
    0x00E84, 0x00E84, 0x00E86, 0x00E8A, 0x00E8C, 0x00EA3, 0x00EA5, 0x00EA5, 0x00EA7, 0x00EB0,
    0x00EB2, 0x00EB3, 0x00EBD, 0x00EBD, 0x00EC0, 0x00EC4, 0x00EC6, 0x00EC6, 0x00EDC, 0x00EDF,
    0x00F00, 0x00F00, 0x00F40, 0x00F47, 0x00F49, 0x00F6C, 0x00F88, 0x00F8C, 0x01000, 0x0102A,
    0x0103F, 0x0103F, 0x01050, 0x01055, 0x0105A, 0x0105D, 0x01061, 0x01061, 0x01065, 0x01066,
    0x0106E, 0x01070, 0x01075, 0x01081, 0x0108E, 0x0108E, 0x010A0, 0x010C5, 0x010C7, 0x010C7,
    0x010CD, 0x010CD, 0x010D0, 0x010FA, 0x010FC, 0x01248, 0x0124A, 0x0124D, 0x01250, 0x01256,
    0x01258, 0x01258, 0x0125A, 0x0125D, 0x01260, 0x01288, 0x0128A, 0x0128D, 0x01290, 0x012B0,
    0x012B2, 0x012B5, 0x012B8, 0x012BE, 0x012C0, 0x012C0, 0x012C2, 0x012C5, 0x012C8, 0x012D6,
    0x012D8, 0x01310, 0x01312, 0x01315, 0x01318, 0x0135A, 0x01380, 0x0138F, 0x013A0, 0x013F5,
    0x013F8, 0x013FD, 0x01401, 0x0166C, 0x0166F, 0x0167F, 0x01681, 0x0169A, 0x016A0, 0x016EA,
    0x016F1, 0x016F8, 0x01700, 0x01711, 0x0171F, 0x01731, 0x01740, 0x01751, 0x01760, 0x0176C,
    0x0176E, 0x01770, 0x01780, 0x017B3, 0x017D7, 0x017D7, 0x017DC, 0x017DC, 0x01820, 0x01878,
    0x01880, 0x01884, 0x01887, 0x018A8, 0x018AA, 0x018AA, 0x018B0, 0x018F5, 0x01900, 0x0191E,
    0x01950, 0x0196D, 0x01970, 0x01974, 0x01980, 0x019AB, 0x019B0, 0x019C9, 0x01A00, 0x01A16,
    0x01A20, 0x01A54, 0x01AA7, 0x01AA7, 0x01B05, 0x01B33, 0x01B45, 0x01B4C, 0x01B83, 0x01BA0,
    0x01BAE, 0x01BAF, 0x01BBA, 0x01BE5, 0x01C00, 0x01C23, 0x01C4D, 0x01C4F, 0x01C5A, 0x01C7D,
    0x01C80, 0x01C88, 0x01C90, 0x01CBA, 0x01CBD, 0x01CBF, 0x01CE9, 0x01CEC, 0x01CEE, 0x01CF3,
    0x01CF5, 0x01CF6, 0x01CFA, 0x01CFA, 0x01D00, 0x01DBF, 0x01E00, 0x01F15, 0x01F18, 0x01F1D,
    0x01F20, 0x01F45, 0x01F48, 0x01F4D, 0x01F50, 0x01F57, 0x01F59, 0x01F59, 0x01F5B, 0x01F5B,
    0x01F5D, 0x01F5D, 0x01F5F, 0x01F7D, 0x01F80, 0x01FB4, 0x01FB6, 0x01FBC, 0x01FBE, 0x01FBE,
    0x01FC2, 0x01FC4, 0x01FC6, 0x01FCC, 0x01FD0, 0x01FD3, 0x01FD6, 0x01FDB, 0x01FE0, 0x01FEC,
    0x01FF2, 0x01FF4, 0x01FF6, 0x01FFC, 0x02071, 0x02071, 0x0207F, 0x0207F, 0x02090, 0x0209C,
    0x02102, 0x02102, 0x02107, 0x02107, 0x0210A, 0x02113, 0x02115, 0x02115, 0x02119, 0x0211D,
    0x02124, 0x02124, 0x02126, 0x02126, 0x02128, 0x02128, 0x0212A, 0x0212D, 0x0212F, 0x02139,
    0x0213C, 0x0213F, 0x02145, 0x02149, 0x0214E, 0x0214E, 0x02183, 0x02184, 0x02C00, 0x02CE4,
    0x02CEB, 0x02CEE, 0x02CF2, 0x02CF3, 0x02D00, 0x02D25, 0x02D27, 0x02D27, 0x02D2D, 0x02D2D,
    0x02D30, 0x02D67, 0x02D6F, 0x02D6F, 0x02D80, 0x02D96, 0x02DA0, 0x02DA6, 0x02DA8, 0x02DAE,
    0x02DB0, 0x02DB6, 0x02DB8, 0x02DBE, 0x02DC0, 0x02DC6, 0x02DC8, 0x02DCE, 0x02DD0, 0x02DD6,
    0x02DD8, 0x02DDE, 0x02E2F, 0x02E2F, 0x03005, 0x03006, 0x03031, 0x03035, 0x0303B, 0x0303C,
    0x03041, 0x03096, 0x0309D, 0x0309F, 0x030A1, 0x030FA, 0x030FC, 0x030FF, 0x03105, 0x0312F,
    0x03131, 0x0318E, 0x031A0, 0x031BF, 0x031F0, 0x031FF, 0x03400, 0x04DBF, 0x04E00, 0x0A48C,
    0x0A4D0, 0x0A4FD, 0x0A500, 0x0A60C, 0x0A610, 0x0A61F, 0x0A62A, 0x0A62B, 0x0A640, 0x0A66E,
    0x0A67F, 0x0A69D, 0x0A6A0, 0x0A6E5, 0x0A717, 0x0A71F, 0x0A722, 0x0A788, 0x0A78B, 0x0A7CA,
    0x0A7D0, 0x0A7D1, 0x0A7D3, 0x0A7D3, 0x0A7D5, 0x0A7D9, 0x0A7F2, 0x0A801, 0x0A803, 0x0A805,
    0x0A807, 0x0A80A, 0x0A80C, 0x0A822, 0x0A840, 0x0A873, 0x0A882, 0x0A8B3, 0x0A8F2, 0x0A8F7,
    0x0A8FB, 0x0A8FB, 0x0A8FD, 0x0A8FE, 0x0A90A, 0x0A925, 0x0A930, 0x0A946, 0x0A960, 0x0A97C,
    0x0A984, 0x0A9B2, 0x0A9CF, 0x0A9CF, 0x0A9E0, 0x0A9E4, 0x0A9E6, 0x0A9EF, 0x0A9FA, 0x0A9FE,
    0x0AA00, 0x0AA28, 0x0AA40, 0x0AA42, 0x0AA44, 0x0AA4B, 0x0AA60, 0x0AA76, 0x0AA7A, 0x0AA7A,
    0x0AA7E, 0x0AAAF, 0x0AAB1, 0x0AAB1, 0x0AAB5, 0x0AAB6, 0x0AAB9, 0x0AABD, 0x0AAC0, 0x0AAC0,
    0x0AAC2, 0x0AAC2, 0x0AADB, 0x0AADD, 0x0AAE0, 0x0AAEA, 0x0AAF2, 0x0AAF4, 0x0AB01, 0x0AB06,
    0x0AB09, 0x0AB0E, 0x0AB11, 0x0AB16, 0x0AB20, 0x0AB26, 0x0AB28, 0x0AB2E, 0x0AB30, 0x0AB5A,
    0x0AB5C, 0x0AB69, 0x0AB70, 0x0ABE2, 0x0AC00, 0x0D7A3, 0x0D7B0, 0x0D7C6, 0x0D7CB, 0x0D7FB,
    0x0F900, 0x0FA6D, 0x0FA70, 0x0FAD9, 0x0FB00, 0x0FB06, 0x0FB13, 0x0FB17, 0x0FB1D, 0x0FB1D,
    0x0FB1F, 0x0FB28, 0x0FB2A, 0x0FB36, 0x0FB38, 0x0FB3C, 0x0FB3E, 0x0FB3E, 0x0FB40, 0x0FB41,
    0x0FB43, 0x0FB44, 0x0FB46, 0x0FBB1, 0x0FBD3, 0x0FD3D, 0x0FD50, 0x0FD8F, 0x0FD92, 0x0FDC7,
    0x0FDF0, 0x0FDFB, 0x0FE70, 0x0FE74, 0x0FE76, 0x0FEFC, 0x0FF21, 0x0FF3A, 0x0FF41, 0x0FF5A,
    0x0FF66, 0x0FFBE, 0x0FFC2, 0x0FFC7, 0x0FFCA, 0x0FFCF, 0x0FFD2, 0x0FFD7, 0x0FFDA, 0x0FFDC,
    0x10000, 0x1000B, 0x1000D, 0x10026, 0x10028, 0x1003A, 0x1003C, 0x1003D, 0x1003F, 0x1004D,
    0x10050, 0x1005D, 0x10080, 0x100FA, 0x10280, 0x1029C, 0x102A0, 0x102D0, 0x10300, 0x1031F,
    0x1032D, 0x10340, 0x10342, 0x10349, 0x10350, 0x10375, 0x10380, 0x1039D, 0x103A0, 0x103C3,
    0x103C8, 0x103CF, 0x10400, 0x1049D, 0x104B0, 0x104D3, 0x104D8, 0x104FB, 0x10500, 0x10527,
    0x10530, 0x10563, 0x10570, 0x1057A, 0x1057C, 0x1058A, 0x1058C, 0x10592, 0x10594, 0x10595,
    0x10597, 0x105A1, 0x105A3, 0x105B1, 0x105B3, 0x105B9, 0x105BB, 0x105BC, 0x10600, 0x10736,
    0x10740, 0x10755, 0x10760, 0x10767, 0x10780, 0x10785, 0x10787, 0x107B0, 0x107B2, 0x107BA,
    0x10800, 0x10805, 0x10808, 0x10808, 0x1080A, 0x10835, 0x10837, 0x10838, 0x1083C, 0x1083C,
    0x1083F, 0x10855, 0x10860, 0x10876, 0x10880, 0x1089E, 0x108E0, 0x108F2, 0x108F4, 0x108F5,
    0x10900, 0x10915, 0x10920, 0x10939, 0x10980, 0x109B7, 0x109BE, 0x109BF, 0x10A00, 0x10A00,
    0x10A10, 0x10A13, 0x10A15, 0x10A17, 0x10A19, 0x10A35, 0x10A60, 0x10A7C, 0x10A80, 0x10A9C,
    0x10AC0, 0x10AC7, 0x10AC9, 0x10AE4, 0x10B00, 0x10B35, 0x10B40, 0x10B55, 0x10B60, 0x10B72,
    0x10B80, 0x10B91, 0x10C00, 0x10C48, 0x10C80, 0x10CB2, 0x10CC0, 0x10CF2, 0x10D00, 0x10D23,
    0x10E80, 0x10EA9, 0x10EB0, 0x10EB1, 0x10F00, 0x10F1C, 0x10F27, 0x10F27, 0x10F30, 0x10F45,
    0x10F70, 0x10F81, 0x10FB0, 0x10FC4, 0x10FE0, 0x10FF6, 0x11003, 0x11037, 0x11071, 0x11072,
    0x11075, 0x11075, 0x11083, 0x110AF, 0x110D0, 0x110E8, 0x11103, 0x11126, 0x11144, 0x11144,
    0x11147, 0x11147, 0x11150, 0x11172, 0x11176, 0x11176, 0x11183, 0x111B2, 0x111C1, 0x111C4,
    0x111DA, 0x111DA, 0x111DC, 0x111DC, 0x11200, 0x11211, 0x11213, 0x1122B, 0x11280, 0x11286,
    0x11288, 0x11288, 0x1128A, 0x1128D, 0x1128F, 0x1129D, 0x1129F, 0x112A8, 0x112B0, 0x112DE,
    0x11305, 0x1130C, 0x1130F, 0x11310, 0x11313, 0x11328, 0x1132A, 0x11330, 0x11332, 0x11333,
    0x11335, 0x11339, 0x1133D, 0x1133D, 0x11350, 0x11350, 0x1135D, 0x11361, 0x11400, 0x11434,
    0x11447, 0x1144A, 0x1145F, 0x11461, 0x11480, 0x114AF, 0x114C4, 0x114C5, 0x114C7, 0x114C7,
    0x11580, 0x115AE, 0x115D8, 0x115DB, 0x11600, 0x1162F, 0x11644, 0x11644, 0x11680, 0x116AA,
    0x116B8, 0x116B8, 0x11700, 0x1171A, 0x11740, 0x11746, 0x11800, 0x1182B, 0x118A0, 0x118DF,
    0x118FF, 0x11906, 0x11909, 0x11909, 0x1190C, 0x11913, 0x11915, 0x11916, 0x11918, 0x1192F,
    0x1193F, 0x1193F, 0x11941, 0x11941, 0x119A0, 0x119A7, 0x119AA, 0x119D0, 0x119E1, 0x119E1,
    0x119E3, 0x119E3, 0x11A00, 0x11A00, 0x11A0B, 0x11A32, 0x11A3A, 0x11A3A, 0x11A50, 0x11A50,
    0x11A5C, 0x11A89, 0x11A9D, 0x11A9D, 0x11AB0, 0x11AF8, 0x11C00, 0x11C08, 0x11C0A, 0x11C2E,
    0x11C40, 0x11C40, 0x11C72, 0x11C8F, 0x11D00, 0x11D06, 0x11D08, 0x11D09, 0x11D0B, 0x11D30,
    0x11D46, 0x11D46, 0x11D60, 0x11D65, 0x11D67, 0x11D68, 0x11D6A, 0x11D89, 0x11D98, 0x11D98,
    0x11EE0, 0x11EF2, 0x11FB0, 0x11FB0, 0x12000, 0x12399, 0x12480, 0x12543, 0x12F90, 0x12FF0,
    0x13000, 0x1342E, 0x14400, 0x14646, 0x16800, 0x16A38, 0x16A40, 0x16A5E, 0x16A70, 0x16ABE,
    0x16AD0, 0x16AED, 0x16B00, 0x16B2F, 0x16B40, 0x16B43, 0x16B63, 0x16B77, 0x16B7D, 0x16B8F,
    0x16E40, 0x16E7F, 0x16F00, 0x16F4A, 0x16F50, 0x16F50, 0x16F93, 0x16F9F, 0x16FE0, 0x16FE1,
    0x16FE3, 0x16FE3, 0x17000, 0x187F7, 0x18800, 0x18CD5, 0x18D00, 0x18D08, 0x1AFF0, 0x1AFF3,
    0x1AFF5, 0x1AFFB, 0x1AFFD, 0x1AFFE, 0x1B000, 0x1B122, 0x1B150, 0x1B152, 0x1B164, 0x1B167,
    0x1B170, 0x1B2FB, 0x1BC00, 0x1BC6A, 0x1BC70, 0x1BC7C, 0x1BC80, 0x1BC88, 0x1BC90, 0x1BC99,
    0x1D400, 0x1D454, 0x1D456, 0x1D49C, 0x1D49E, 0x1D49F, 0x1D4A2, 0x1D4A2, 0x1D4A5, 0x1D4A6,
    0x1D4A9, 0x1D4AC, 0x1D4AE, 0x1D4B9, 0x1D4BB, 0x1D4BB, 0x1D4BD, 0x1D4C3, 0x1D4C5, 0x1D505,
    0x1D507, 0x1D50A, 0x1D50D, 0x1D514, 0x1D516, 0x1D51C, 0x1D51E, 0x1D539, 0x1D53B, 0x1D53E,
    0x1D540, 0x1D544, 0x1D546, 0x1D546, 0x1D54A, 0x1D550, 0x1D552, 0x1D6A5, 0x1D6A8, 0x1D6C0,
    0x1D6C2, 0x1D6DA, 0x1D6DC, 0x1D6FA, 0x1D6FC, 0x1D714, 0x1D716, 0x1D734, 0x1D736, 0x1D74E,
    0x1D750, 0x1D76E, 0x1D770, 0x1D788, 0x1D78A, 0x1D7A8, 0x1D7AA, 0x1D7C2, 0x1D7C4, 0x1D7CB,
    0x1DF00, 0x1DF1E, 0x1E100, 0x1E12C, 0x1E137, 0x1E13D, 0x1E14E, 0x1E14E, 0x1E290, 0x1E2AD,
    0x1E2C0, 0x1E2EB, 0x1E7E0, 0x1E7E6, 0x1E7E8, 0x1E7EB, 0x1E7ED, 0x1E7EE, 0x1E7F0, 0x1E7FE,
    0x1E800, 0x1E8C4, 0x1E900, 0x1E943, 0x1E94B, 0x1E94B, 0x1EE00, 0x1EE03, 0x1EE05, 0x1EE1F,
    0x1EE21, 0x1EE22, 0x1EE24, 0x1EE24, 0x1EE27, 0x1EE27, 0x1EE29, 0x1EE32, 0x1EE34, 0x1EE37,
    0x1EE39, 0x1EE39, 0x1EE3B, 0x1EE3B, 0x1EE42, 0x1EE42, 0x1EE47, 0x1EE47, 0x1EE49, 0x1EE49,
    0x1EE4B, 0x1EE4B, 0x1EE4D, 0x1EE4F, 0x1EE51, 0x1EE52, 0x1EE54, 0x1EE54, 0x1EE57, 0x1EE57,
    0x1EE59, 0x1EE59, 0x1EE5B, 0x1EE5B, 0x1EE5D, 0x1EE5D, 0x1EE5F, 0x1EE5F, 0x1EE61, 0x1EE62,
    0x1EE64, 0x1EE64, 0x1EE67, 0x1EE6A, 0x1EE6C, 0x1EE72, 0x1EE74, 0x1EE77, 0x1EE79, 0x1EE7C,
    0x1EE7E, 0x1EE7E, 0x1EE80, 0x1EE89, 0x1EE8B, 0x1EE9B, 0x1EEA1, 0x1EEA3, 0x1EEA5, 0x1EEA9,
    0x1EEAB, 0x1EEBB, 0x20000, 0x2A6DF, 0x2A700, 0x2B738, 0x2B740, 0x2B81D, 0x2B820, 0x2CEA1,
    0x2CEB0, 0x2EBE0, 0x2F800, 0x2FA1D, 0x30000, 0x3134A,
];
