//! The byte-level BPE tokenizer (src/llm/tokenizer.rs): on a tiny hand-made vocabulary (the
//! byte map, merge order, GPT-2's pre-tokenizer split by hand-derived cases, added tokens,
//! streaming decode, the chat template, typed errors for broken vocabularies), natively and as
//! wasm32 under Node. With `--features zoo`: SmolLM2's tokenizer against PyPI `tokenizers`
//! on the same vocabulary and merges (tools/zoo/llm.sh writes the ids), natively from the
//! model's GGUF and in wasm from its vocabulary-only GGUF, with the encoding time of
//! lee_background.cor (360 KB of news text) printed.

use zeroskip::import::gguf::Gguf;
use zeroskip::llm::tokenizer::{
    is_letter, ChatTemplate, Message, PreTokenizer, TokenKind, Tokenizer, Vocab,
};
use zeroskip::Error;

/// 256 byte tokens (id = byte), one token per merge result, then `extra` (text, type).
fn vocab(pre: &str, merges: &[&str], extra: &[(&str, i64)]) -> Vocab {
    let mut tokens: Vec<String> = (0..=255u8).map(zeroskip::llm::synth::byte_token).collect();
    for m in merges {
        let t = m.replace(' ', "");
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    let mut types = vec![1; tokens.len()];
    for (t, ty) in extra {
        tokens.push(t.to_string());
        types.push(*ty);
    }
    Vocab {
        tokens,
        token_types: types,
        merges: merges.iter().map(|m| m.to_string()).collect(),
        pre: pre.into(),
        eos: Some(0),
        ..Vocab::default()
    }
}

fn tiny(merges: &[&str]) -> Tokenizer {
    Tokenizer::from_vocab(
        "tiny",
        vocab(
            "smollm",
            merges,
            &[
                ("<|im_start|>", 3),
                ("<|im_end|>", 3),
                ("<|im_end|>x", 3),
                ("<tool>", 4),
            ],
        ),
    )
    .unwrap()
}

/// The tokens of `ids` in their stored form.
fn toks(t: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&i| t.token(i).unwrap().to_string())
        .collect()
}

fn id(t: &Tokenizer, s: &str) -> u32 {
    t.token_id(s)
        .unwrap_or_else(|| panic!("{s:?} not in the vocabulary"))
}

const SMOLLM2_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// ---- a minimal GGUF writer, for `Tokenizer::from_gguf` ---------------------------------------

enum Kv<'a> {
    Str(&'a str),
    U32(u32),
    Bool(bool),
    Strs(Vec<String>),
    I32s(Vec<i32>),
}

fn gguf(kvs: &[(&str, Kv)]) -> Vec<u8> {
    let s = |b: &mut Vec<u8>, x: &str| {
        b.extend((x.len() as u64).to_le_bytes());
        b.extend(x.as_bytes());
    };
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend((kvs.len() as u64).to_le_bytes());
    for (k, v) in kvs {
        s(&mut b, k);
        match v {
            Kv::Str(x) => {
                b.extend(8u32.to_le_bytes());
                s(&mut b, x);
            }
            Kv::U32(x) => {
                b.extend(4u32.to_le_bytes());
                b.extend(x.to_le_bytes());
            }
            Kv::Bool(x) => {
                b.extend(7u32.to_le_bytes());
                b.push(*x as u8);
            }
            Kv::Strs(xs) => {
                b.extend(9u32.to_le_bytes());
                b.extend(8u32.to_le_bytes());
                b.extend((xs.len() as u64).to_le_bytes());
                for x in xs {
                    s(&mut b, x);
                }
            }
            Kv::I32s(xs) => {
                b.extend(9u32.to_le_bytes());
                b.extend(5u32.to_le_bytes());
                b.extend((xs.len() as u64).to_le_bytes());
                for x in xs {
                    b.extend(x.to_le_bytes());
                }
            }
        }
    }
    b
}

fn tiny_gguf(model: &str, pre: &str) -> Vec<u8> {
    let v = vocab(
        pre,
        &["h e", "l l"],
        &[("<|im_start|>", 3), ("<|im_end|>", 3)],
    );
    let n = v.tokens.len();
    gguf(&[
        ("general.architecture", Kv::Str("llama")),
        ("tokenizer.ggml.model", Kv::Str(model)),
        ("tokenizer.ggml.pre", Kv::Str(pre)),
        ("tokenizer.ggml.tokens", Kv::Strs(v.tokens.clone())),
        (
            "tokenizer.ggml.token_type",
            Kv::I32s(v.token_types.iter().map(|&t| t as i32).collect()),
        ),
        ("tokenizer.ggml.merges", Kv::Strs(v.merges.clone())),
        ("tokenizer.ggml.bos_token_id", Kv::U32(n as u32 - 2)),
        ("tokenizer.ggml.eos_token_id", Kv::U32(n as u32 - 1)),
        ("tokenizer.ggml.padding_token_id", Kv::U32(n as u32 - 1)),
        ("tokenizer.ggml.add_bos_token", Kv::Bool(false)),
        ("tokenizer.chat_template", Kv::Str(SMOLLM2_TEMPLATE)),
    ])
}

tests! {
    fn byte_map_is_gpt2s() {
        let t = tiny(&[]);
        // Every byte alone is its own token, named by GPT-2's map.
        for (b, name) in [(b' ', "Ġ"), (b'\n', "Ċ"), (0u8, "Ā"), (0x7f, "ġ"), (0xa0, "ł"), (0xad, "Ń"), (b'a', "a"), (0xff, "ÿ")] {
            let s = [b];
            let text = std::str::from_utf8(&s).unwrap_or("");
            if !text.is_empty() {
                assert_eq!(toks(&t, &t.encode(text, false)), [name], "byte {b:#x}");
            }
            assert_eq!(t.token_bytes(id(&t, name)).unwrap(), [b]);
        }
        // Multi-byte characters become their UTF-8 bytes.
        assert_eq!(toks(&t, &t.encode("é", false)), ["Ã", "©"]);
        assert_eq!(t.encode("€", false), [0xe2, 0x82, 0xac]);
        assert_eq!(t.vocab_size(), 256 + 4);
        assert_eq!(t.pre_tokenizer(), PreTokenizer::Gpt2Digits);
        assert_eq!(t.kind(256), Some(TokenKind::Control));
        assert_eq!(t.kind(259), Some(TokenKind::UserDefined));
        assert_eq!(t.eos, Some(0));
    }

    fn merges_follow_rank_then_position() {
        let t = tiny(&["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"]);
        assert_eq!(toks(&t, &t.encode("hello world", false)), ["hello", "Ġworld"]);
        // The lowest rank anywhere goes first: "b c" (rank 0) beats "a b" (rank 1).
        let t = tiny(&["b c", "a b"]);
        assert_eq!(toks(&t, &t.encode("abc", false)), ["a", "bc"]);
        assert_eq!(toks(&t, &t.encode("ab", false)), ["ab"]);
        // Equal ranks: leftmost first.
        let t = tiny(&["a a", "aa a"]);
        assert_eq!(toks(&t, &t.encode("aaa", false)), ["aaa"]);
        // All rank-0 pairs merge before any rank-1 pair: "aaaa" is aa·aa, never aaa·a.
        assert_eq!(toks(&t, &t.encode("aaaa", false)), ["aa", "aa"]);
        let t = tiny(&["a a"]);
        assert_eq!(toks(&t, &t.encode("aaaaa", false)), ["aa", "aa", "a"]);
        // A byte without a token is dropped (as Hugging Face's BPE does); its neighbours meet.
        let mut v = vocab("smollm", &["h e"], &[]);
        v.tokens[b'x' as usize] = "xx".into();
        let t = Tokenizer::from_vocab("v", v).unwrap();
        assert_eq!(toks(&t, &t.encode("hxe x", false)), ["he", "Ġ"]);
        // A merge whose parts never meet does nothing.
        let t = tiny(&["x y"]);
        assert_eq!(toks(&t, &t.encode("yx", false)), ["y", "x"]);
        assert!(t.encode("", false).is_empty());
    }

    fn gpt2_pre_tokenizer_split() {
        let smollm = tiny(&[]);
        let gpt2 = Tokenizer::from_vocab("t", vocab("gpt-2", &[], &[])).unwrap();
        // (text, smollm pieces, gpt-2 pieces when they differ)
        type Case<'a> = (&'a str, &'a [&'a str], Option<&'a [&'a str]>);
        let cases: &[Case] = &[
            ("Hello world", &["Hello", " world"], None),
            ("a  b", &["a", " ", " b"], None),
            ("a   ", &["a", "   "], None),
            ("  a", &[" ", " a"], None),
            (" ", &[" "], None),
            ("x\n\ny", &["x", "\n", "\n", "y"], None),
            ("x\n \ny", &["x", "\n ", "\n", "y"], None),
            ("tab\there", &["tab", "\t", "here"], None),
            ("end\n", &["end", "\n"], None),
            ("I'm you're we've they'll she'd it's don't", &["I", "'m", " you", "'re", " we", "'ve", " they", "'ll", " she", "'d", " it", "'s", " don", "'t"], None),
            ("I'M 'S", &["I", "'", "M", " '", "S"], None),
            ("rock'n'roll", &["rock", "'", "n", "'", "roll"], None),
            ("!!! ?? a.b", &["!!!", " ??", " a", ".", "b"], None),
            ("naïve café", &["naïve", " café"], None),
            ("abc123def", &["abc", "1", "2", "3", "def"], Some(&["abc", "123", "def"])),
            ("year 2024", &["year", " ", "2", "0", "2", "4"], Some(&["year", " 2024"])),
            ("a  1", &["a", "  ", "1"], Some(&["a", " ", " 1"])),
            ("x²", &["x", "²"], None),
            ("Ⅻ1", &["Ⅻ", "1"], Some(&["Ⅻ1"])),
            ("a\u{a0}b", &["a", "\u{a0}", "b"], None),
            ("a \u{a0}b", &["a", " ", "\u{a0}", "b"], None),
            ("日本語 text", &["日本語", " text"], None),
            ("🦀 crab", &["🦀", " crab"], None),
            // Devanagari vowel signs and viramas are marks (Mn/Mc), not \p{L}.
            ("नमस्ते", &["नमस", "्", "त", "े"], None),
            ("", &[], None),
        ];
        for (text, want, want_gpt2) in cases {
            assert_eq!(&smollm.pre_tokens(text), want, "smollm: {text:?}");
            assert_eq!(&gpt2.pre_tokens(text), want_gpt2.unwrap_or(want), "gpt-2: {text:?}");
        }
    }

    fn letters_are_unicode_category_l() {
        for c in ['a', 'Z', 'é', 'ß', 'Ж', 'ع', 'न', '日', 'ᾳ', 'ǅ', 'ʰ', '𝐀'] {
            assert!(is_letter(c), "{c:?}");
        }
        // Marks, numbers, symbols: even those std counts as alphabetic (Other_Alphabetic, Nl).
        for c in ['\u{301}', '\u{947}', '\u{94d}', '\u{345}', 'Ⅻ', 'ⓐ', '1', '²', ' ', '_', '🦀'] {
            assert!(!is_letter(c), "{c:?}");
        }
        assert!('\u{947}'.is_alphabetic() && 'Ⅻ'.is_alphabetic() && 'ⓐ'.is_alphabetic());
        // Category L is a subset of std's Alphabetic, in every Unicode version.
        let mut n = 0;
        for c in (0..0x11_0000).filter_map(char::from_u32) {
            if is_letter(c) {
                assert!(c.is_alphabetic() && !c.is_numeric() && !c.is_whitespace(), "{c:?}");
                n += 1;
            }
        }
        assert!(n > 130_000, "{n} letters");
    }

    fn added_tokens() {
        let t = tiny(&["h i"]);
        let [start, end, endx, tool] = ["<|im_start|>", "<|im_end|>", "<|im_end|>x", "<tool>"].map(|s| id(&t, s));
        let text = "<|im_start|>hi<|im_end|>\n<tool>";
        assert_eq!(t.encode(text, true), [start, id(&t, "hi"), end, id(&t, "Ċ"), tool]);
        // Without `special`, control tokens are text; user-defined ones are still recognised.
        let plain = t.encode(text, false);
        assert_eq!(*plain.last().unwrap(), tool);
        assert!(!plain.contains(&start) && !plain.contains(&end));
        assert_eq!(t.decode(&plain).unwrap(), text);
        // Longest match at a position; leftmost first; near misses are text.
        assert_eq!(t.encode("<|im_end|>x<|im_end|>", true), [endx, end]);
        assert_eq!(t.encode("<|im_end|<|im_end|>", true).last(), Some(&end));
        assert!(!t.encode("<|im_star <|im_end |>", true).iter().any(|&i| i >= start));
        // Text around them goes through the pre-tokenizer as usual.
        assert_eq!(toks(&t, &t.encode("a 1<|im_start|> b", true)), ["a", "Ġ", "1", "<|im_start|>", "Ġ", "b"]);
        for s in [text, "<|im_end|>x<|im_end|>", "é<tool>€"] {
            assert_eq!(t.decode(&t.encode(s, true)).unwrap(), s);
        }
    }

    fn decode_round_trips() {
        let t = tiny(&["Ġ Ġ", "ĠĠ ĠĠ", "h e", "l l", "he ll", "hell o"]);
        for s in [
            "", "hello", "  hello   world  ", "\t\n\r\n", "naïve — 日本語 🦀 👨‍👩‍👧",
            "e\u{301}\u{0}\u{7f}\u{ff}", "x".repeat(1000).as_str(), " ".repeat(1001).as_str(),
        ] {
            assert_eq!(t.decode(&t.encode(s, false)).unwrap(), s);
            assert_eq!(t.decode(&t.encode(s, true)).unwrap(), s);
        }
        // A cut inside a character decodes to U+FFFD; an unknown id is an error.
        let euro = t.encode("€", false);
        assert_eq!(t.decode(&euro[..2]).unwrap(), "\u{fffd}");
        let e = t.decode(&[5, 100_000]).unwrap_err();
        assert!(matches!(e, Error::DimOutOfRange { value: 100_000, .. }), "{e:?}");
        assert!(e.to_string().contains("tiny"), "{e}");
    }

    fn long_runs_stay_linear() {
        // 200k spaces, digits and letters: linear pre-tokenization, n log n BPE.
        let t = tiny(&["Ġ Ġ", "ĠĠ ĠĠ", "ĠĠĠĠ ĠĠĠĠ", "a a", "aa aa"]);
        let spaces = " ".repeat(200_000);
        let ids = t.encode(&spaces, false);
        assert_eq!(ids.len(), 200_000 / 8);
        assert_eq!(t.decode(&ids).unwrap(), spaces);
        let text = format!("{}x{}", " ".repeat(100_001), "a".repeat(100_000));
        let ids = t.encode(&text, false);
        assert_eq!(t.decode(&ids).unwrap(), text);
        assert_eq!(t.encode(&"7".repeat(100_000), false).len(), 100_000);
    }

    fn streaming_decode_holds_partial_characters() {
        let t = tiny(&[]);
        let text = "a€🦀b";
        let mut d = t.stream();
        let pieces: Vec<String> = t.encode(text, false).iter().map(|&i| d.push(i).unwrap()).collect();
        assert_eq!(pieces, ["a", "", "", "€", "", "", "", "🦀", "b"]);
        assert_eq!(d.finish(), "");
        // Invalid bytes come out as U+FFFD at once; an unfinished sequence at the end on finish.
        let mut d = t.stream();
        assert_eq!(d.push(0x80).unwrap(), "\u{fffd}");
        assert_eq!(d.push(b'x' as u32).unwrap(), "x");
        assert_eq!(d.push(0xe2).unwrap(), "");
        assert_eq!(d.push(0x82).unwrap(), "");
        assert_eq!(d.push(b'y' as u32).unwrap(), "\u{fffd}y");
        assert_eq!(d.push(0xf0).unwrap(), "");
        assert_eq!(d.finish(), "\u{fffd}");
        let mut d = t.stream();
        assert!(matches!(d.push(9999), Err(Error::DimOutOfRange { .. })));
        // Special tokens stream as their text.
        let mut d = t.stream();
        assert_eq!(d.push(256).unwrap(), "<|im_start|>");
    }

    fn chat_template_chatml() {
        let tpl = ChatTemplate::parse("t", SMOLLM2_TEMPLATE).unwrap();
        let sys = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
        assert_eq!(tpl, ChatTemplate::ChatMl { default_system: Some(sys.into()) });
        let user = [Message::new("user", "Hi!")];
        assert_eq!(
            tpl.render(&user, true),
            format!("<|im_start|>system\n{sys}<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n")
        );
        assert_eq!(
            tpl.render(&[Message::new("system", "Be brief."), Message::new("user", "Hi!")], false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
        );
        assert_eq!(tpl.render(&[], true), "<|im_start|>assistant\n");
        // Without a default system message; with escaped newlines in the Jinja strings.
        let plain = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        let tpl = ChatTemplate::parse("t", plain).unwrap();
        assert_eq!(tpl, ChatTemplate::ChatMl { default_system: None });
        assert_eq!(tpl.render(&user, false), "<|im_start|>user\nHi!<|im_end|>\n");
        // Anything else is refused by name.
        let e = ChatTemplate::parse("model.gguf", "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}").unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("model.gguf"), "{e}");
    }

    fn from_gguf_metadata() {
        let b = tiny_gguf("gpt2", "smollm");
        let g = Gguf::parse("tiny.gguf", &b).unwrap();
        let t = Tokenizer::from_gguf(&g).unwrap();
        assert_eq!(t.vocab_size(), 256 + 2 + 2);
        assert_eq!((t.bos, t.eos, t.padding, t.unknown, t.add_bos), (Some(258), Some(259), Some(259), None, false));
        assert_eq!(toks(&t, &t.encode("hell", true)), ["he", "ll"]);
        let prompt = t.chat_template().unwrap().render(&[Message::new("user", "hell")], true);
        let ids = t.encode(&prompt, true);
        assert_eq!(ids[0], 258);
        assert_eq!(t.decode(&ids).unwrap(), prompt);
        // Not byte-level BPE, or a pre-tokenizer we do not know: refused by name.
        for (model, pre, needle) in [("llama", "smollm", "llama"), ("gpt2", "qwen2", "qwen2")] {
            let b = tiny_gguf(model, pre);
            let e = Tokenizer::from_gguf(&Gguf::parse("tiny.gguf", &b).unwrap()).unwrap_err();
            assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains(needle) && e.to_string().contains("tiny.gguf"), "{e}");
        }
        // Missing keys name the key.
        let b = gguf(&[("tokenizer.ggml.model", Kv::Str("gpt2"))]);
        let e = Tokenizer::from_gguf(&Gguf::parse("tiny.gguf", &b).unwrap()).unwrap_err();
        assert!(e.to_string().contains("tokenizer.ggml.tokens"), "{e}");
    }

    fn broken_vocabularies_are_typed_errors() {
        let check = |v: Vocab, needle: &str| {
            let e = Tokenizer::from_vocab("v.gguf", v).unwrap_err();
            assert!(matches!(e, Error::BadModel { .. }), "{e:?}");
            assert!(e.to_string().contains(needle) && e.to_string().contains("v.gguf"), "{e}");
        };
        let mut v = vocab("smollm", &["h e"], &[]);
        v.merges.push("h z z".into());
        check(v, "merge #1");
        let mut v = vocab("smollm", &["h e"], &[]);
        v.merges.push("he xyz".into());
        check(v, "\"xyz\" is not in the vocabulary");
        let mut v = vocab("smollm", &["h e"], &[]);
        v.merges.push("e h".into());
        check(v, "\"eh\" is not in the vocabulary");
        let mut v = vocab("smollm", &[], &[]);
        v.token_types.pop();
        check(v, "token_type has 255 entries");
        let mut v = vocab("smollm", &[], &[]);
        v.token_types[7] = 9;
        check(v, "unknown type 9");
        let mut v = vocab("smollm", &[], &[]);
        v.bos = Some(256);
        check(v, "bos token id 256");
        check(Vocab { pre: "smollm".into(), ..Vocab::default() }, "0 tokens");
    }
}

// ---- SmolLM2 against PyPI tokenizers: tools/zoo/llm.sh ---------------------------------------

#[cfg(feature = "zoo")]
mod zoo {
    use super::*;
    use serde_json::Value as J;

    /// The model's tokenizer: natively from the model's GGUF, in wasm (no file system) from the
    /// vocabulary-only GGUF that llm_ref.py wrote from it, embedded at build time.
    #[cfg(not(target_arch = "wasm32"))]
    fn files() -> (Vec<u8>, Vec<u8>) {
        (
            crate::common::zoo::read("llm/SmolLM2-135M-Instruct.Q4_1.gguf"),
            crate::common::zoo::read("llm/tokenizer_ref.json"),
        )
    }
    #[cfg(target_arch = "wasm32")]
    fn files() -> (Vec<u8>, Vec<u8>) {
        (
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/.cache/zoo/llm/smollm2_vocab.gguf"
            ))
            .to_vec(),
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/.cache/zoo/llm/tokenizer_ref.json"
            ))
            .to_vec(),
        )
    }

    fn now_ms() -> f64 {
        #[cfg(target_arch = "wasm32")]
        return js_sys::Date::now();
        #[cfg(not(target_arch = "wasm32"))]
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1e3;
    }

    fn ids(v: &J) -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    }

    fn setup() -> (Tokenizer, J) {
        let (gguf, reference) = files();
        let g = Gguf::parse("SmolLM2-135M-Instruct", &gguf).unwrap();
        let t = Tokenizer::from_gguf(&g).unwrap();
        (t, serde_json::from_slice(&reference).unwrap())
    }

    tests! {
        fn smollm2_encodes_like_hf_tokenizers() {
            let (t, r) = setup();
            assert_eq!(t.vocab_size(), 49152);
            assert_eq!(t.pre_tokenizer(), PreTokenizer::Gpt2Digits);
            assert_eq!((t.bos, t.eos, t.padding, t.unknown, t.add_bos), (Some(1), Some(2), Some(2), Some(0), false));
            let control: Vec<&str> = r["control_tokens"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
            assert_eq!(control.len(), 17);
            for (i, c) in control.iter().enumerate() {
                assert_eq!(t.token_id(c), Some(i as u32));
                assert_eq!(t.kind(i as u32), Some(TokenKind::Control));
            }
            let cases = r["cases"].as_array().unwrap();
            assert!(cases.len() > 40);
            let mut failed = vec![];
            for c in cases {
                let (name, text) = (c["name"].as_str().unwrap(), c["text"].as_str().unwrap());
                for (mode, special) in [("special", true), ("plain", false)] {
                    let want = ids(&c[mode]);
                    let got = t.encode(text, special);
                    if got != want {
                        let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
                        failed.push(format!(
                            "{name} ({mode}): {} vs {} ids, first difference at {at}: ours {:?} theirs {:?}",
                            got.len(), want.len(),
                            toks(&t, &got[at..(at + 5).min(got.len())]),
                            toks(&t, &want[at..(at + 5).min(want.len())]),
                        ));
                    }
                    // decode(encode(x)) = x, but for bytes the vocabulary lacks (dropped).
                    let kept: String = if c["lossy"].as_bool().unwrap() {
                        text.chars().filter(|ch| !t.encode(&ch.to_string(), false).is_empty()).collect()
                    } else {
                        text.into()
                    };
                    assert_eq!(t.decode(&got).unwrap(), kept, "{name} ({mode}): decode(encode(x))");
                }
            }
            assert!(failed.is_empty(), "{} of {} encodings differ:\n{}", failed.len(), 2 * cases.len(), failed.join("\n"));
        }

        fn smollm2_chat_template_matches_jinja() {
            let (t, r) = setup();
            let tpl = t.chat_template().unwrap();
            assert!(matches!(&tpl, ChatTemplate::ChatMl { default_system: Some(s) } if s.contains("SmolLM")));
            for c in r["chats"].as_array().unwrap() {
                let msgs: Vec<Message> = c["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| Message::new(m[0].as_str().unwrap(), m[1].as_str().unwrap()))
                    .collect();
                let text = tpl.render(&msgs, c["add_generation_prompt"].as_bool().unwrap());
                assert_eq!(text, c["text"].as_str().unwrap(), "{}", c["name"]);
                assert_eq!(t.encode(&text, true), ids(&c["ids"]), "{}", c["name"]);
            }
        }

        fn smollm2_lee_background_timing_and_streaming() {
            let (gguf, reference) = files();
            let r: J = serde_json::from_slice(&reference).unwrap();
            let t_load = now_ms();
            let t = Tokenizer::from_gguf(&Gguf::parse("SmolLM2", &gguf).unwrap()).unwrap();
            let load = now_ms() - t_load;
            let case = r["cases"].as_array().unwrap().iter().find(|c| c["name"] == "lee_background").unwrap();
            let text = case["text"].as_str().unwrap();
            let t0 = now_ms();
            let got = t.encode(text, true);
            let t1 = now_ms();
            let back = t.decode(&got).unwrap();
            let t2 = now_ms();
            assert_eq!(got, ids(&case["special"]));
            assert_eq!(back, text);
            let mut d = t.stream();
            let mut streamed = String::new();
            for &i in &got {
                streamed.push_str(&d.push(i).unwrap());
            }
            streamed.push_str(&d.finish());
            assert_eq!(streamed, text);
            let line = format!(
                "tokenizer from GGUF {load:.1} ms; lee_background.cor ({} bytes -> {} tokens): encode {:.1} ms \
                 ({:.0} tokens/s), decode {:.1} ms; PyPI tokenizers {:.1} ms",
                text.len(), got.len(), t1 - t0, got.len() as f64 / ((t1 - t0).max(1e-3) / 1e3), t2 - t1,
                r["lee_background_hf_seconds"].as_f64().unwrap() * 1e3,
            );
            #[cfg(target_arch = "wasm32")]
            wasm_bindgen_test::console_log!("{line}");
            #[cfg(not(target_arch = "wasm32"))]
            println!("{line}");
        }
    }
}
