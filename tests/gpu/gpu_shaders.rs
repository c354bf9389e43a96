//! Every WGSL shader of the WebGPU path parses and validates with naga (the version wgpu 30
//! compiles with), with no GPU: first as written (override constants at their defaults), then
//! specialised with the override values the executor uses and translated to SPIR-V, the path
//! the Vulkan backend takes. A broken shader fails here, in plain `cargo test`.
#![cfg(not(target_arch = "wasm32"))]

use naga::back::PipelineConstants;
use naga::valid::{Capabilities, ValidationFlags, Validator};
use zeroskip::gpu::shaders::{self, Binary, Pipeline, Shader};
use zeroskip::gpu::SPMM_SHAPES;
use zeroskip::kernels::cnn::ActKind;

/// Parses and validates `shader`, printing naga's own report (file, line, caret) on failure.
fn validate(shader: &Shader) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(shader.source).unwrap_or_else(|e| {
        panic!(
            "{}.wgsl does not parse:\n{}",
            shader.name,
            e.emit_to_string_with_path(shader.source, &format!("shaders/{}.wgsl", shader.name))
        )
    });
    // WebGPU's capabilities: none beyond the core (no f16, no subgroups, no push constants).
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| {
            panic!(
                "{}.wgsl does not validate:\n{}",
                shader.name,
                e.emit_to_string_with_path(shader.source, &format!("shaders/{}.wgsl", shader.name))
            )
        });
    (module, info)
}

/// Specialises with `constants` and writes SPIR-V, as wgpu does when it creates a pipeline.
fn specialise(shader: &Shader, constants: &[(&str, f64)]) {
    let (module, info) = validate(shader);
    let pc: PipelineConstants = constants.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, "main")),
        &pc,
    )
    .unwrap_or_else(|e| panic!("{} with {constants:?}: {e}", shader.name));
    // Re-validate the specialised module, as wgpu-core does.
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{} with {constants:?}: {e:?}", shader.name));
    naga::back::spv::write_vec(&module, &info, &Default::default(), None)
        .unwrap_or_else(|e| panic!("{} with {constants:?} → SPIR-V: {e}", shader.name));
}

#[test]
fn every_shader_parses_and_validates() {
    assert!(shaders::ALL.len() >= 11, "the shader list lost entries");
    for s in shaders::ALL {
        let (module, _) = validate(s);
        let entries: Vec<_> = module.entry_points.iter().map(|e| &e.name).collect();
        assert_eq!(
            entries,
            ["main"],
            "{}: one compute entry point named main",
            s.name
        );
        println!("{}.wgsl: ok ({} bytes)", s.name, s.source.len());
    }
}

#[test]
fn every_shader_has_a_header_and_shape_comments() {
    for s in shaders::ALL {
        assert!(
            s.source.starts_with("//"),
            "{}.wgsl: starts with a comment saying what it computes and why it is laid out so",
            s.name
        );
        for line in s.source.lines().filter(|l| l.contains("var<storage")) {
            assert!(
                line.contains("// ") && line.contains('('),
                "{}.wgsl: storage binding without a shape comment: {line}",
                s.name
            );
        }
    }
}

/// Every pipeline the lowering builds: spmm shapes, the common depthwise windows, every
/// binary op and activation, both pools and both channel ops.
fn pipelines() -> Vec<Pipeline> {
    let mut all: Vec<Pipeline> = SPMM_SHAPES
        .iter()
        .map(|&(l, r)| shaders::spmm(l, r))
        .collect();
    for k in [1, 3, 5, 7] {
        for st in [1, 2] {
            all.push(shaders::dwconv(k, k, st, st));
        }
    }
    all.push(shaders::dwconv(3, 5, 1, 2));
    all.extend(Binary::ALL.map(shaders::binary));
    all.extend(
        [
            ActKind::Clamp,
            ActKind::HardSigmoid,
            ActKind::HardSwish,
            ActKind::Sigmoid,
            ActKind::Tanh,
            ActKind::LeakyRelu,
        ]
        .map(shaders::unary),
    );
    for b in [false, true] {
        all.extend([shaders::pool(b), shaders::channel(b)]);
    }
    all.extend([
        shaders::gemm(),
        shaders::conv(),
        shaders::gavgpool(),
        shaders::softmax(),
        shaders::copy(),
    ]);
    all
}

/// Workgroup sizes stay within WebGPU's default limits for every specialisation used.
#[test]
fn specialisations_the_executor_uses_validate_and_translate() {
    for s in shaders::ALL {
        specialise(s, &[]);
    }
    for &(lanes, rows) in SPMM_SHAPES {
        assert!(
            lanes * rows <= 256,
            "spmm {lanes}x{rows} exceeds 256 invocations"
        );
    }
    for p in pipelines() {
        specialise(&p.shader, &p.constants);
    }
}

/// Pipeline names follow the kernel grammar `<op>_f32_<tile>[_<KH>x<KW>s<S>]__wgsl`, and one
/// name is one (shader, constants): the pipeline cache keys by it.
#[test]
fn pipeline_names_follow_the_kernel_grammar_and_are_unique() {
    // `<n>x<n>…`: how many numbers, each all digits.
    let dims = |t: &str| {
        let ns: Vec<&str> = t.split('x').collect();
        let digits = ns
            .iter()
            .all(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
        if digits {
            ns.len()
        } else {
            0
        }
    };
    let mut seen = std::collections::HashMap::new();
    for p in pipelines() {
        let body = p
            .name
            .strip_suffix("__wgsl")
            .unwrap_or_else(|| panic!("{}", p.name));
        let parts: Vec<&str> = body.split('_').collect();
        assert!(matches!(parts.len(), 3 | 4), "{}", p.name);
        assert!(
            parts[0].bytes().all(|c| c.is_ascii_lowercase()),
            "{}",
            p.name
        );
        assert_eq!(parts[1], "f32", "{}", p.name);
        assert_eq!(dims(parts[2]), 2, "{}: tile", p.name);
        if let Some(w) = parts.get(3) {
            let (k, s) = w
                .split_once('s')
                .unwrap_or_else(|| panic!("{}: window", p.name));
            assert!(
                dims(k) == 2 && matches!(dims(s), 1 | 2),
                "{}: window",
                p.name
            );
        }
        let key = (p.shader.name, format!("{:?}", p.constants));
        if let Some(old) = seen.insert(p.name.clone(), key.clone()) {
            assert_eq!(old, key, "{} names two specialisations", p.name);
        }
    }
    assert_eq!(shaders::spmm(16, 4).name, "spmm_f32_64x4__wgsl");
    assert_eq!(
        shaders::dwconv(3, 3, 2, 2).name,
        "dwconv_f32_64x1_3x3s2__wgsl"
    );
    assert_eq!(
        shaders::dwconv(3, 5, 1, 2).name,
        "dwconv_f32_64x1_3x5s1x2__wgsl"
    );
}

/// A broken source is caught by the same checks (the tests above are not vacuous).
#[test]
fn a_broken_shader_is_rejected() {
    for source in [
        "@compute @workgroup_size(64) fn main() { let x: u32 = 1.5; }",
        "@compute @workgroup_size(64) fn main( {",
        "@group(0) @binding(0) var<storage, read> x: array<f32>;\n\
         @compute @workgroup_size(64) fn main() { x[0] = 1.0; }",
    ] {
        let rejected = match naga::front::wgsl::parse_str(source) {
            Err(_) => true,
            Ok(m) => Validator::new(ValidationFlags::all(), Capabilities::empty())
                .validate(&m)
                .is_err(),
        };
        assert!(rejected, "naga accepted a broken shader: {source}");
    }
}

/// The LLM ops' shaders (src/gpu/llm/ops.rs): each parses and validates with one entry point
/// `main`, has a header and shape comments, and every specialisation the constructors build
/// (each threshold mode, both top-k passes, SwiGLU's threshold-only mode) translates; their
/// names follow `<op>_f32_<tile>[_<variant>]__wgsl`, one name per specialisation.
#[test]
fn llm_op_shaders_validate_and_specialise() {
    use zeroskip::gpu::llm::ops::{self, Dims, Thresh};
    for s in ops::SHADERS {
        let (module, _) = validate(s);
        let entries: Vec<_> = module.entry_points.iter().map(|e| &e.name).collect();
        assert_eq!(entries, ["main"], "{}", s.name);
        assert!(s.source.starts_with("//"), "{}.wgsl: header", s.name);
        for line in s.source.lines().filter(|l| l.contains("var<storage")) {
            assert!(
                line.contains("// ") && line.contains('('),
                "{}.wgsl: storage binding without a shape comment: {line}",
                s.name
            );
        }
        specialise(s, &[]);
    }
    let d = Dims {
        dim: 576,
        n_heads: 9,
        n_kv_heads: 3,
        head_dim: 64,
        ffn: 1536,
        ctx: 8192,
        rope_dim: 64,
        vocab: 49152,
    };
    let mut specs = vec![
        ops::rope_kv(0, 1, 2, 3, 4, 5, &d),
        ops::attention(0, 1, 2, 3, 4, &d),
    ];
    specs.extend(ops::topk(0, 1, 2, d.vocab));
    for t in [Thresh::None, Thresh::Abs(0.1), Thresh::Scaled(0.1)] {
        for last in [false, true] {
            specs.push(ops::rmsnorm(0, 1, 2, Some(3), 576, 1e-5, t, last));
        }
        specs.push(ops::threshold(0, Some(1), 576, t));
        specs.push(ops::swiglu(0, 1, Some(2), 1536, 0.0, t));
        specs.push(ops::swiglu(0, 1, Some(2), 1536, 0.5, t));
    }
    let mut seen = std::collections::HashMap::new();
    for s in &specs {
        specialise(&s.pipeline.shader, &s.pipeline.constants);
        let name = &s.pipeline.name;
        let body = name
            .strip_suffix("__wgsl")
            .unwrap_or_else(|| panic!("{name}"));
        let parts: Vec<&str> = body.split('_').collect();
        assert!(matches!(parts.len(), 3 | 4), "{name}");
        assert_eq!(parts[1], "f32", "{name}");
        assert!(s.params.len() <= zeroskip::gpu::llm::PARAM_WORDS, "{name}");
        let key = (
            s.pipeline.shader.name,
            format!("{:?}", s.pipeline.constants),
        );
        if let Some(old) = seen.insert(name.clone(), key.clone()) {
            assert_eq!(old, key, "{name} names two specialisations");
        }
    }
    assert!(seen.len() >= 12, "{seen:?}");
    // what the shaders assume is checked up front, as typed errors
    d.check().unwrap();
    for bad in [
        Dims { n_kv_heads: 2, ..d },
        Dims { n_kv_heads: 0, ..d },
        Dims { rope_dim: 65, ..d },
        Dims {
            head_dim: 512,
            rope_dim: 64,
            ..d
        },
        Dims { ctx: 0, ..d },
        Dims {
            ctx: u32::MAX / 16,
            ..d
        },
    ] {
        assert!(
            matches!(bad.check(), Err(zeroskip::Error::BadArgument { .. })),
            "{bad:?}"
        );
    }
}

/// WebGPU core plus `unpack2x16float` (core WGSL, which naga gates behind this capability and
/// wgpu grants on every WebGPU-compliant adapter): the LLM shaders read f16 scales with it.
const LLM_CAPS: Capabilities = Capabilities::SHADER_FLOAT16_IN_FLOAT32;

/// [`specialise`] under [`LLM_CAPS`]; returns the parsed module.
fn specialise_llm(shader: &Shader, constants: &[(&str, f64)]) -> naga::Module {
    let module = naga::front::wgsl::parse_str(shader.source)
        .unwrap_or_else(|e| panic!("{}.wgsl does not parse: {e}", shader.name));
    let check = |m: &naga::Module| {
        Validator::new(ValidationFlags::all(), LLM_CAPS)
            .validate(m)
            .unwrap_or_else(|e| {
                panic!(
                    "{}.wgsl with {constants:?} does not validate:\n{}",
                    shader.name,
                    e.emit_to_string_with_path(shader.source, shader.name)
                )
            })
    };
    let info = check(&module);
    let pc: PipelineConstants = constants.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    let (spec, spec_info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, "main")),
        &pc,
    )
    .unwrap_or_else(|e| panic!("{} with {constants:?}: {e}", shader.name));
    check(&spec);
    naga::back::spv::write_vec(&spec, &spec_info, &Default::default(), None)
        .unwrap_or_else(|e| panic!("{} with {constants:?} → SPIR-V: {e}", shader.name));
    module
}

/// The LLM linear shaders (src/gpu/llm/linear.rs): each parses, validates, has one entry
/// point, a header and shape comments, and specialises with every override combination the
/// packer can choose (format, lanes, group size and bits, skip).
#[test]
fn llm_linear_shaders_validate_with_every_specialisation() {
    use zeroskip::gpu::llm::linear::{self, LLM_COL, LLM_DENSE, LLM_GROUP, LLM_NM};
    for s in linear::SHADERS {
        let module = specialise_llm(s, &[]);
        let entries: Vec<_> = module.entry_points.iter().map(|e| &e.name).collect();
        assert_eq!(entries, ["main"], "{}", s.name);
        assert!(s.source.starts_with("//"), "{}: header comment", s.name);
        for line in s.source.lines().filter(|l| l.contains("var<storage")) {
            assert!(
                line.contains("// ") && line.contains('('),
                "{}: {line}",
                s.name
            );
        }
    }
    let lanes = [1.0, 4.0, 8.0, 16.0, 32.0, 64.0];
    for fmt in 0..5 {
        let fmt = fmt as f64;
        specialise_llm(&LLM_DENSE, &[("FMT", fmt), ("MODE", 1.0)]);
        for l in lanes {
            for x4 in [0.0, 1.0] {
                let c = [("FMT", fmt), ("MODE", 0.0), ("LANES", l), ("X4", x4)];
                specialise_llm(&LLM_DENSE, &c);
            }
        }
    }
    for (g, bits) in [(16.0, 4.0), (8.0, 4.0), (16.0, 8.0), (8.0, 8.0)] {
        for l in lanes {
            for x4 in [0.0, 1.0] {
                let c = [("G", g), ("BITS", bits), ("LANES", l), ("X4", x4)];
                specialise_llm(&LLM_GROUP, &c);
            }
        }
    }
    for l in lanes {
        specialise_llm(&LLM_NM, &[("LANES", l)]);
    }
    for bits in [4.0, 8.0] {
        for skip in [0.0, 1.0] {
            for l in [1.0, 8.0] {
                specialise_llm(&LLM_COL, &[("BITS", bits), ("SKIP", skip), ("LANES", l)]);
            }
        }
    }
}
