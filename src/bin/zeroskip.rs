//! The native zeroskip CLI.
//!
//! ```text
//! zeroskip prune MODEL.onnx --calib INPUTS.npy|DIR --method sparsegpt --sparsity 0.5 \
//!     [--pattern unstructured|2x1|4x1|8x1] [--schedule uniform|protect-small] \
//!     [--layer NAME=S ...] [--calib-range 10..20] [--calib-count N] [--damp 0.01] \
//!     [--preprocess MODEL.json] [--no-reestimate] [--verbose] -o OUT.onnx
//! zeroskip prune MODEL.gguf --calib TEXT --method magnitude|wanda|sparsegpt --sparsity 0.5 \
//!     [--pattern unstructured|1x8|1x16|2:4] [--format g16i4|g8i4|g16i8|nm24i8|csr8] \
//!     [--calib-tokens 4096] [--seq-len 512] [--calib-cache FILE] [--verbose] -o OUT.zsk
//! zeroskip convert MODEL.gguf --to q8_0 -o OUT.gguf
//! zeroskip inspect MODEL.onnx|MODEL.zsk [--dense]
//! zeroskip pack MODEL.onnx [--fp16] -o MODEL.zsk
//! zeroskip eval MODEL.onnx --images INPUTS.npy|DIR [--preprocess MODEL.json] [--range 0..10] \
//!     [--labels verify.json] [--label-offset 1] [--dense DENSE.onnx|DENSE_LOGITS.npy] [--json]
//! zeroskip eval MODEL.gguf --ppl TEXT [--split eval|calib|all] [--ctx 512] [--stride 256] \
//!     [--max-tokens N] [--json]
//! zeroskip bench-llm A.gguf B.zsk … [--backends webgpu,wasm] [--prompt-tokens 16] [--tokens 16] \
//!     [--repeats 3] [--json OUT]
//! zeroskip generate MODEL.gguf --prompt "..." [--max-tokens 64] [--temperature 0] [--top-k 0] \
//!     [--top-p 1] [--seed 0] [--chat] [--ctx N]
//! ```
//!
//! Inputs are preprocessed NCHW float32 `.npy` arrays (`[N, C, H, W]`), as the zoo's
//! `verify/<model>_inputs.npy`, or a directory of such arrays, or a directory of photos
//! (.jpg/.jpeg/.png, name order) preprocessed as the model's zoo json says (`--preprocess`,
//! default: the .json beside the model with its stem). Evaluation runs the reference
//! interpreter (slow, exact). `eval --ppl` measures a llama GGUF's perplexity on a text file
//! with a sliding window (`zeroskip::llm::ppl`; `--split eval`, the default, keeps the last 25 %
//! of the lines, the held-out part every pruning experiment evaluates on).

// The CLI reads files and draws progress bars: native only. A wasm32 build of all targets
// gets an empty main so `cargo build --target wasm32-unknown-unknown --all-targets` works.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    match cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[path = "zeroskip/bench_llm.rs"]
mod bench_llm;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Args, Parser, Subcommand};
    use indicatif::{ProgressBar, ProgressStyle};
    use std::collections::BTreeMap;
    use std::ops::Range;
    use std::path::{Path, PathBuf};
    use std::time::Instant;
    use zeroskip::error::{Error, Result};
    use zeroskip::graph::{reference, Graph};
    use zeroskip::prune::images::{self, Preprocess};
    use zeroskip::prune::{self, npy, Config, Schedule, Stage};
    use zeroskip::{export, import};

    #[derive(Parser)]
    #[command(name = "zeroskip", about = "Prune, export and evaluate sparse CNNs")]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(Subcommand)]
    enum Cmd {
        /// One-shot pruning of every 1x1 conv and FC layer; writes a standard ONNX model.
        Prune(Box<PruneArgs>),
        /// Top-1 on labeled inputs, and agreement / KL against the dense model; or, with
        /// --ppl, a llama GGUF's perplexity on a text file.
        Eval(EvalArgs),
        /// Per layer: shapes, sparsity, the kernel the plan picks, and FLOPs.
        Inspect(InspectArgs),
        /// Writes a .zsk (docs/zsk.md): the graph with sparse 1x1/FC layers stored packed.
        Pack(PackArgs),
        /// Runs a llama GGUF on a prompt, streaming the continuation to stdout; prefill and
        /// decode speed to stderr.
        Generate(GenerateArgs),
        /// Rewrites a llama GGUF with its matrices requantized (to Q8_0).
        Convert(ConvertArgs),
        /// Decode and prefill speed of llama files on native wgpu (Vulkan) and the CPU path, in
        /// one run: a table, and JSON with --json.
        BenchLlm(crate::bench_llm::BenchLlmArgs),
    }

    #[derive(Args)]
    struct ConvertArgs {
        model: PathBuf,
        /// Target type of the matrices: q8_0 or q4_0.
        #[arg(long, default_value = "q8_0")]
        to: String,
        #[arg(short = 'o', long)]
        output: PathBuf,
    }

    #[derive(Args)]
    struct GenerateArgs {
        model: PathBuf,
        #[arg(long)]
        prompt: String,
        /// Tokens to generate at most (fewer if the model ends its turn).
        #[arg(long, default_value_t = 64)]
        max_tokens: usize,
        /// 0 = greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// Sample among the K most likely tokens only (0 = all).
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        /// Nucleus sampling mass, in (0, 1] (1 = off).
        #[arg(long, default_value_t = 1.0)]
        top_p: f32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Wrap the prompt as one user message in the model's chat template.
        #[arg(long)]
        chat: bool,
        /// KV cache positions (default: prompt + max tokens, at most the model's context).
        #[arg(long)]
        ctx: Option<usize>,
        /// Ignore the file's activation thresholds (decode with dense inputs).
        #[arg(long)]
        no_act: bool,
    }

    #[derive(Args)]
    struct PackArgs {
        model: PathBuf,
        /// Store weight values as f16 (half the size; the loaded weights are the f16 values).
        #[arg(long)]
        fp16: bool,
        #[arg(short = 'o', long)]
        output: PathBuf,
    }

    #[derive(Args)]
    struct InspectArgs {
        model: PathBuf,
        /// Plan every 1x1/FC layer dense (the baseline).
        #[arg(long)]
        dense: bool,
    }

    #[derive(Args)]
    struct PruneArgs {
        /// An ONNX / TF.js model, or a llama GGUF (pruned into a sparse LLM .zsk).
        model: PathBuf,
        /// Calibration inputs: an `[N, C, H, W]` float32 .npy, a directory of them, or a
        /// directory of photos (.jpg/.jpeg/.png; see --preprocess). For a GGUF: a UTF-8 text
        /// file, of which the calibration split (the first 75 % of lines) is used.
        #[arg(long)]
        calib: PathBuf,
        /// GGUF: the sparse format of the pruned matrices (default: g<G>i4 for 1xG, nm24i8
        /// for 2:4, csr8 for unstructured).
        #[arg(long)]
        format: Option<String>,
        /// GGUF: calibration tokens (from the start of the calibration split).
        #[arg(long, default_value_t = 4096)]
        calib_tokens: usize,
        /// GGUF: uniform (every matrix loses --sparsity) or global (one threshold on the
        /// estimated output error of every weight or group, over all matrices).
        #[arg(long, default_value = "uniform")]
        allocation: String,
        /// GGUF: prune only these matrix kinds, comma-separated (attn_q, attn_k, attn_v,
        /// attn_output, ffn_gate, ffn_up, ffn_down); the others stay dense.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// GGUF, 1xG: keep the FFN channels in file order (no reordering by activation energy).
        #[arg(long)]
        no_permute: bool,
        /// GGUF: tokens per calibration sequence.
        #[arg(long, default_value_t = 512)]
        seq_len: usize,
        /// GGUF: keep the calibration's Gram matrices in this file and reuse them while the
        /// model, text and token counts are the same (a sweep calibrates once).
        #[arg(long)]
        calib_cache: Option<PathBuf>,
        /// For a directory of photos: the model's zoo json (size, mean, std, resize rule).
        /// Default: MODEL.json beside MODEL.onnx.
        #[arg(long)]
        preprocess: Option<PathBuf>,
        /// Which calibration images to use, e.g. `10..20` (default: all).
        #[arg(long)]
        calib_range: Option<String>,
        /// At most this many calibration images (after --calib-range).
        #[arg(long)]
        calib_count: Option<usize>,
        /// magnitude | wanda | sparsegpt
        #[arg(long, default_value = "sparsegpt")]
        method: String,
        /// Target fraction of zeros over all 1x1-conv and FC weights, in [0, 1) (GGUF with
        /// --act-sparsity: default 0, no weight pruning).
        #[arg(long, required_unless_present = "act_sparsity")]
        sparsity: Option<f32>,
        /// GGUF: calibrate activation-sparsity thresholds for decode to this target (the
        /// MAC-weighted mean fraction of zeroed linear inputs, in [0, 0.9)) and store them in
        /// the .zsk; the matrices are packed input-channel-major (default --format cm32i8) so
        /// decode skips the weight columns of zeroed inputs.
        #[arg(long)]
        act_sparsity: Option<f32>,
        /// teal (|x| thresholds at every linear input), wina (|x_j|·‖W[:,j]‖, weight-informed)
        /// or gate (|silu(gate)| on the FFN channels; only ffn_down is repacked unless --only
        /// says otherwise).
        #[arg(long, default_value = "teal")]
        act_method: String,
        /// uniform (every site at the target) or greedy (TEAL's order, on an output-energy
        /// proxy: the sites whose next step drops the least energy per skipped multiply-add
        /// first; on SmolLM2 it scores worse than uniform, see README).
        #[arg(long, default_value = "uniform")]
        act_allocation: String,
        /// GGUF: also store the LM head in this sparse format (cm32i8: faster than the
        /// embeddings' GGUF blocks; a tied head becomes an untied copy, the embedding lookup
        /// keeps the original).
        #[arg(long)]
        lm_head: Option<String>,
        /// GGUF: sparsity of each site kind instead of a global target: four comma-separated
        /// fractions for the inputs of Wq/Wk/Wv, Wo, W_gate/W_up and W_down (every layer alike;
        /// --act-sparsity is then ignored but must be given).
        #[arg(long, value_delimiter = ',')]
        act_per_site: Vec<f32>,
        /// GGUF: keep the activation histograms in this file and reuse them while the model,
        /// text, token counts and method are the same (a sweep over targets calibrates once).
        #[arg(long)]
        act_calib_cache: Option<PathBuf>,
        /// unstructured | 2x1 | 4x1 | 8x1 (output-channel groups sharing a mask); for a GGUF:
        /// unstructured | 1x8 | 1x16 (input-column groups) | 2:4
        #[arg(long, default_value = "unstructured")]
        pattern: String,
        /// uniform | protect-small (small layers pruned less, same global sparsity)
        #[arg(long, default_value = "uniform")]
        schedule: String,
        /// Per-layer override `NODE_NAME=SPARSITY` (repeatable; implies an explicit map).
        #[arg(long = "layer")]
        layers: Vec<String>,
        /// SparseGPT dampening: λ = DAMP · mean(diag H) added to H's diagonal.
        #[arg(long, default_value_t = 0.01)]
        damp: f64,
        /// Skip the BN (bias/scale) re-estimation (for ablations: quality collapses without).
        #[arg(long)]
        no_reestimate: bool,
        /// Print the per-layer sparsity table.
        #[arg(long)]
        verbose: bool,
        /// Output model: `.zsk` writes zeroskip's packed file, anything else a standard ONNX.
        #[arg(short = 'o', long)]
        output: PathBuf,
    }

    #[derive(Args)]
    struct EvalArgs {
        model: PathBuf,
        /// Inputs: an `[N, C, H, W]` float32 .npy, a directory of them, or a directory of
        /// photos (.jpg/.jpeg/.png; see --preprocess).
        #[arg(long, required_unless_present = "ppl")]
        images: Option<PathBuf>,
        /// Perplexity of the llama GGUF MODEL on this UTF-8 text file (sliding window).
        #[arg(long, conflicts_with_all = ["images", "preprocess", "range", "labels", "dense"])]
        ppl: Option<PathBuf>,
        /// With --ppl: which lines of the text: `eval` (the last 25 %, held out), `calib` (the
        /// rest) or `all`.
        #[arg(long, default_value = "eval", requires = "ppl")]
        split: String,
        /// With --ppl: window in tokens (default 512, or the model's context if smaller).
        #[arg(long, requires = "ppl")]
        ctx: Option<usize>,
        /// With --ppl: tokens between window starts (default ctx / 2).
        #[arg(long, requires = "ppl")]
        stride: Option<usize>,
        /// With --ppl: run a sparse .zsk's pruned matrices as dense f32 copies of their values
        /// (same weights, the faster portable dense kernels; 4 bytes a weight).
        #[arg(long, requires = "ppl")]
        densify: bool,
        /// With --ppl: only the first N tokens of the chosen text.
        #[arg(long, requires = "ppl")]
        max_tokens: Option<usize>,
        /// With --ppl: ignore the file's activation thresholds (its activation sparsity 0).
        #[arg(long, requires = "ppl")]
        no_act: bool,
        /// For a directory of photos: the model's zoo json (size, mean, std, resize rule).
        /// Default: MODEL.json beside MODEL.onnx.
        #[arg(long)]
        preprocess: Option<PathBuf>,
        /// Which images to evaluate, e.g. `0..10` (default: all).
        #[arg(long)]
        range: Option<String>,
        /// A JSON file with a `"labels": [...]` array (the zoo's verify.json).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Added to each label to get the model's class index (1 for 1001-class MobileNetV1).
        #[arg(long, default_value_t = 0)]
        label_offset: usize,
        /// The dense model (.onnx, run here) or its logits (`[N, classes]` .npy).
        #[arg(long)]
        dense: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    }

    pub fn main() -> Result<()> {
        match Cli::parse().cmd {
            Cmd::Prune(a) => run_prune(*a),
            Cmd::Eval(a) => run_eval(a),
            Cmd::Inspect(a) => run_inspect(a),
            Cmd::Pack(a) => run_pack(a),
            Cmd::Generate(a) => run_generate(a),
            Cmd::BenchLlm(a) => crate::bench_llm::run(a),
            Cmd::Convert(a) => run_convert(a),
        }
    }

    /// The plan's choices per layer. This native build plans with its scalar kernels; the
    /// dense-or-sparse decision and block width are the same in the browser builds, which run
    /// the SIMD tile of that width (e.g. spmm_f32_8x1_scalar here, spmm_f32_32x1_simd128 there).
    fn run_inspect(a: InspectArgs) -> Result<()> {
        use zeroskip::graph::{Plan, PlanOptions, Sparsity};
        let graph = load_model(&a.model)?;
        let sparsity = if a.dense {
            Sparsity::Dense
        } else {
            Sparsity::Auto
        };
        let plan = Plan::new(
            &graph,
            PlanOptions {
                sparsity,
                ..Default::default()
            },
        )?;
        let report = plan.report();
        println!(
            "{:<4} {:<34} {:<14} {:>15} {:>15}  {:<26} {:>8} {:>9} {:>9}",
            "#", "node", "op", "input", "output", "kernel", "zeros", "MFLOPs", "executed"
        );
        let (mut dense_total, mut exec_total) = (0.0, 0.0);
        for (i, r) in report.iter().enumerate() {
            let mflops = r.flops as f64 / 1e6;
            let executed = mflops * (1.0 - r.sparsity.unwrap_or(0.0));
            dense_total += mflops;
            exec_total += executed;
            let shape = |s: zeroskip::graph::Shape| format!("{}x{}x{}", s.c, s.h, s.w);
            let zeros = r
                .sparsity
                .map_or(String::new(), |z| format!("{:.1}%", 100.0 * z));
            println!(
                "{:<4} {:<34} {:<14} {:>15} {:>15}  {:<26} {:>8} {:>9.2} {:>9.2}",
                i,
                truncate(&r.node, 34),
                r.op,
                shape(r.input),
                shape(r.output),
                truncate(&r.kernel, 26),
                zeros,
                mflops,
                executed
            );
        }
        let sparse = report
            .iter()
            .filter(|r| r.kernel.starts_with("spmm_"))
            .count();
        let pointwise = report.iter().filter(|r| r.sparsity.is_some()).count();
        println!(
            "{} layers; 1x1/FC on sparse kernels: {sparse} of {pointwise}; {dense_total:.1} MFLOPs dense-equivalent, {exec_total:.1} executed ({:.2}x less); arena {:.1} MB",
            report.len(),
            dense_total / exec_total.max(1e-9),
            plan.arena_len() as f64 * 4.0 / 1e6
        );
        Ok(())
    }

    fn truncate(s: &str, n: usize) -> String {
        if s.chars().count() <= n {
            s.to_string()
        } else {
            s.chars().take(n - 1).chain(['…']).collect()
        }
    }

    fn run_prune(a: PruneArgs) -> Result<()> {
        if a.model.extension().is_some_and(|e| e == "gguf") {
            return run_prune_llm(a);
        }
        let mut graph = load_model(&a.model)?;
        let sparsity = a
            .sparsity
            .ok_or_else(|| bad("--sparsity", "required for an ONNX or TF.js model".into()))?;
        let mut config = Config::new(a.method.parse()?, a.pattern.parse()?, sparsity);
        config.reestimate = !a.no_reestimate;
        config.damp = a.damp;
        config.schedule = schedule(&a.schedule, &a.layers)?;
        let source = Inputs {
            path: &a.calib,
            model: &a.model,
            preprocess: a.preprocess.as_deref(),
            what: "--calib",
        };
        // Photos past --calib-count are not decoded (unless a range picks them).
        let max = a.calib_count.filter(|_| a.calib_range.is_none());
        let mut calib = read_inputs(&source, graph.input_shape().len(), max)?;
        calib = select(calib, a.calib_range.as_deref(), "--calib-range")?;
        if let Some(n) = a.calib_count {
            calib.truncate(n);
        }
        let t0 = Instant::now();
        let bar = bar(0, "");
        let reports = prune::prune(&mut graph, &calib, &config, &mut |p| {
            let stage = match p.stage {
                Stage::DenseStats => "dense stats",
                Stage::Prune => "pruning",
            };
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!("{stage}: {}", p.what));
        })?;
        bar.finish_and_clear();
        if a.verbose {
            println!(
                "{:<48} {:>11} {:>7} {:>8}",
                "layer", "c_out×c_in", "target", "achieved"
            );
            for r in &reports {
                let dims = format!("{}×{}", r.c_out, r.c_in);
                println!(
                    "{:<48} {dims:>11} {:>7.3} {:>8.3}",
                    r.name, r.target, r.achieved
                );
            }
        }
        // `-o x.zsk` writes zeroskip's own packed file; anything else a standard ONNX model.
        let bytes = if a.output.extension().is_some_and(|e| e == "zsk") {
            zeroskip::zsk::write(&graph, zeroskip::zsk::Precision::F32)?
        } else {
            export::onnx::write(&graph)?
        };
        std::fs::write(&a.output, bytes).map_err(|e| io(&a.output, e))?;
        println!(
            "pruned {} layers of {} with {:?} {:?} ({}), calibrated on {} inputs: \
             global sparsity {:.4} in {:.1} s -> {}",
            reports.len(),
            a.model.display(),
            config.method,
            config.pattern,
            a.schedule,
            calib.len(),
            prune::global_sparsity(&reports),
            t0.elapsed().as_secs_f64(),
            a.output.display()
        );
        Ok(())
    }

    fn run_convert(a: ConvertArgs) -> Result<()> {
        use zeroskip::import::gguf::GgmlType;
        let to = match a.to.as_str() {
            "q8_0" => GgmlType::Q8_0,
            "q4_0" => GgmlType::Q4_0,
            other => return Err(bad("--to", format!("'{other}': expected q8_0 or q4_0"))),
        };
        let bytes = std::fs::read(&a.model).map_err(|e| io(&a.model, e))?;
        let g = zeroskip::import::gguf::Gguf::parse(&a.model.display().to_string(), &bytes)?;
        let out = export::gguf::requantize(&g, to)?;
        std::fs::write(&a.output, &out).map_err(|e| io(&a.output, e))?;
        println!(
            "{} -> {} ({:.1} MB -> {:.1} MB, matrices as {to:?})",
            a.model.display(),
            a.output.display(),
            bytes.len() as f64 / 1e6,
            out.len() as f64 / 1e6
        );
        Ok(())
    }

    /// Prunes a llama GGUF's linear layers into a sparse LLM .zsk (`zeroskip::prune::llm`).
    fn run_prune_llm(a: PruneArgs) -> Result<()> {
        use zeroskip::import::gguf::{Gguf, Value};
        use zeroskip::llm::act::ActMethod;
        use zeroskip::llm::llama::Llama;
        use zeroskip::llm::ppl::split_text;
        use zeroskip::llm::tokenizer::Tokenizer;
        use zeroskip::llm::LlamaConfig;
        use zeroskip::prune::llm::act::{ActAllocation, ActCalibration};
        use zeroskip::prune::llm::{self as lp, Calibration, LlmConfig};
        use zeroskip::prune::{Method, Pattern};
        use zeroskip::sparse::llm::SparseFormat;

        let t0 = Instant::now();
        let bytes = std::fs::read(&a.model).map_err(|e| io(&a.model, e))?;
        let name = a.model.display().to_string();
        let g = Gguf::parse(&name, &bytes)?;
        let cfg = LlamaConfig::from_gguf(&g)?;
        let sparsity = a.sparsity.unwrap_or(0.0);
        let act_method: ActMethod = a.act_method.parse()?;
        let act_alloc: ActAllocation = a.act_allocation.parse()?;
        // No weight pruning: magnitude at 0 drops nothing and needs no Gram matrices.
        let method: Method = if sparsity == 0.0 {
            Method::Magnitude
        } else {
            a.method.parse()?
        };
        let pattern: Pattern = a.pattern.parse()?;
        let mut only = a.only.clone();
        if a.act_sparsity.is_some() && act_method == ActMethod::Gate && only.is_empty() {
            only = vec!["ffn_down".into()];
        }
        let format = match &a.format {
            Some(f) => SparseFormat::parse(f)?,
            None if a.act_sparsity.is_some() => SparseFormat::Col { bits: 8 },
            None => match pattern {
                Pattern::ColGroups(g) => SparseFormat::Group { g, bits: 4 },
                Pattern::NofM(..) => SparseFormat::TwoFour,
                _ => SparseFormat::Csr8,
            },
        };
        let mut pc = LlmConfig::new(method, pattern, sparsity, format);
        pc.damp = a.damp;
        pc.allocation = a.allocation.parse()?;
        pc.only = only.clone();
        pc.permute = !a.no_permute;
        let calib_ids = || -> Result<(String, Vec<u32>)> {
            let text = std::fs::read_to_string(&a.calib).map_err(|e| io(&a.calib, e))?;
            let tok = Tokenizer::from_gguf(&g)?;
            let mut ids: Vec<u32> = tok.encode(split_text(&text).calib, false);
            if ids.len() < a.calib_tokens {
                return Err(Error::BadCalibration {
                    detail: format!(
                        "{}: its calibration split has {} tokens, --calib-tokens asks {}",
                        a.calib.display(),
                        ids.len(),
                        a.calib_tokens
                    ),
                });
            }
            ids.truncate(a.calib_tokens);
            // what a calibration cache was computed from: a stale cache is never used
            // (file names, not paths: the same files reached by another path share the cache)
            let base = |p: &Path| {
                p.file_name()
                    .map_or(String::new(), |f| f.to_string_lossy().into())
            };
            let key = format!(
                "{} {} bytes | {} {} bytes | {} tokens | seq {}",
                base(&a.model),
                bytes.len(),
                base(&a.calib),
                text.len(),
                a.calib_tokens,
                a.seq_len
            );
            Ok((key, ids))
        };
        let calib = if method == Method::Magnitude {
            None
        } else {
            let (key, ids) = calib_ids()?;
            let cached = match &a.calib_cache {
                Some(p) => Calibration::load(p, &key)?,
                None => None,
            };
            Some(match cached {
                Some(c) => {
                    eprintln!(
                        "calibration: reusing {}",
                        a.calib_cache
                            .as_ref()
                            .map_or(String::new(), |p| p.display().to_string())
                    );
                    c
                }
                None => {
                    let model = Llama::load(&name, bytes.clone())?;
                    let b = bar(ids.len() as u64, "calibration tokens (dense model)");
                    let c = Calibration::collect(&model, &ids, a.seq_len, |n| {
                        b.set_position(n as u64)
                    })?;
                    b.finish_and_clear();
                    eprintln!(
                        "calibration: {} tokens in {} sequences, {:.1} s",
                        c.tokens,
                        c.sequences,
                        t0.elapsed().as_secs_f64()
                    );
                    if let Some(p) = &a.calib_cache {
                        c.save(p, &key)?;
                    }
                    c
                }
            })
        };
        // Activation thresholds, from their own dense pass (histograms, see prune::llm::act).
        let act = match a.act_sparsity {
            None => None,
            Some(target) => {
                let (key, ids) = calib_ids()?;
                let cached = match &a.act_calib_cache {
                    Some(p) => ActCalibration::load(p, &key, act_method)?,
                    None => None,
                };
                let c = match cached {
                    Some(c) => c,
                    None => {
                        let model = Llama::load(&name, bytes.clone())?;
                        let b = bar(
                            ids.len() as u64,
                            "activation calibration tokens (dense model)",
                        );
                        let c =
                            ActCalibration::collect(&model, act_method, &ids, a.seq_len, |n| {
                                b.set_position(n as u64)
                            })?;
                        b.finish_and_clear();
                        if let Some(p) = &a.act_calib_cache {
                            c.save(p, &key)?;
                        }
                        c
                    }
                };
                let act = match a.act_per_site[..] {
                    [] => c.allocate(target, act_alloc)?,
                    [q, o, f, d] => c.allocate_per_kind([q, o, f, d])?,
                    _ => {
                        return Err(bad(
                            "--act-per-site",
                            "four fractions: Wq/Wk/Wv, Wo, W_gate/W_up, W_down inputs".into(),
                        ))
                    }
                };
                eprintln!(
                    "activation sparsity: {} {} over {} tokens, target {target}: calibrated \
                     {:.4} (MAC-weighted); per layer [qkv, o, gate/up, down] zero fractions:",
                    act_method.name(),
                    a.act_allocation,
                    c.tokens,
                    c.met(&act)
                );
                if a.verbose {
                    for (l, z) in act.calibrated.iter().enumerate() {
                        eprintln!(
                            "  layer {l:>2}: {:.2} {:.2} {:.2} {:.2}  thresholds {:.4} {:.4} {:.4} {:.4}",
                            z[0], z[1], z[2], z[3], act.thresholds[l][0], act.thresholds[l][1],
                            act.thresholds[l][2], act.thresholds[l][3]
                        );
                    }
                }
                Some(act)
            }
        };
        let n = lp::linears(&cfg)
            .iter()
            .filter(|j| only.is_empty() || only.iter().any(|k| j.kind() == k))
            .count();
        let b = bar(n as u64, "matrices pruned and packed");
        let pruned = lp::prune(&g, &cfg, calib.as_ref(), &pc, |d| b.set_position(d as u64))?;
        b.finish_and_clear();
        if a.verbose {
            println!(
                "{:<28} {:>10} {:>9} {:>9} {:>10}",
                "matrix", "rows×cols", "sparsity", "rel.err", "bytes"
            );
            for (_, r) in &pruned {
                let dims = format!("{}×{}", r.rows, r.cols);
                println!(
                    "{:<28} {dims:>10} {:>9.4} {:>9.4} {:>10}",
                    r.name, r.sparsity, r.rel_error, r.bytes
                );
            }
        }
        let reports: Vec<&lp::MatrixReport> = pruned.iter().map(|(_, r)| r).collect();
        let weights: usize = reports.iter().map(|r| r.rows * r.cols).sum();
        let zeros: f64 = reports
            .iter()
            .map(|r| r.sparsity as f64 * (r.rows * r.cols) as f64)
            .sum();
        let err: f64 =
            reports.iter().map(|r| r.rel_error as f64).sum::<f64>() / reports.len().max(1) as f64;
        let meta = vec![
            (
                "zeroskip.prune.method".to_string(),
                Value::String(format!("{method:?}").to_lowercase()),
            ),
            (
                "zeroskip.prune.pattern".into(),
                Value::String(pattern.name()),
            ),
            ("zeroskip.prune.sparsity".into(), Value::F32(pc.sparsity)),
            (
                "zeroskip.prune.act".into(),
                Value::String(match a.act_sparsity {
                    Some(t) => format!("{} {} {t}", a.act_method, a.act_allocation),
                    None => "none".into(),
                }),
            ),
            ("zeroskip.prune.format".into(), Value::String(format.name())),
            (
                "zeroskip.prune.allocation".into(),
                Value::String(a.allocation.clone()),
            ),
            (
                "zeroskip.prune.calib_tokens".into(),
                Value::U64(calib.as_ref().map_or(0, |c| c.tokens) as u64),
            ),
            (
                "zeroskip.prune.source".into(),
                Value::String(
                    a.model
                        .file_name()
                        .map_or(String::new(), |f| f.to_string_lossy().into()),
                ),
            ),
        ];
        let mut matrices: Vec<_> = pruned.into_iter().map(|(m, _)| m).collect();
        if let Some(f) = &a.lm_head {
            let head = g
                .tensor(zeroskip::zsk::llm::LM_HEAD)
                .or_else(|_| g.tensor("token_embd.weight"))?;
            let (rows, cols) = (head.info.rows(), head.info.row_len());
            let w = head.dequantize()?;
            let m = zeroskip::sparse::llm::SparseMatrix::pack(
                zeroskip::zsk::llm::LM_HEAD,
                SparseFormat::parse(f)?,
                &w,
                rows,
                cols,
            )?;
            eprintln!(
                "LM head ({rows}×{cols}, from {}) stored as {f}: {:.1} MB",
                head.info.name,
                m.n_bytes() as f64 / 1e6
            );
            matrices.push(m);
        }
        let out = zeroskip::zsk::llm::write_with_act(&g, &matrices, &meta, act.as_ref())?;
        std::fs::write(&a.output, &out).map_err(|e| io(&a.output, e))?;
        println!(
            "pruned {} matrices of {} with {:?} {} as {}: sparsity {:.4}, mean relative error \
             {err:.4}; {:.1} MB -> {:.1} MB in {:.1} s -> {}",
            matrices.len(),
            a.model.display(),
            method,
            pattern.name(),
            format.name(),
            zeros / weights.max(1) as f64,
            bytes.len() as f64 / 1e6,
            out.len() as f64 / 1e6,
            t0.elapsed().as_secs_f64(),
            a.output.display()
        );
        Ok(())
    }

    fn run_eval(a: EvalArgs) -> Result<()> {
        if let Some(text) = &a.ppl {
            return run_ppl(&a, text);
        }
        let Some(images) = &a.images else {
            return Err(bad("--images", "required (or --ppl)".into()));
        };
        let graph = load_model(&a.model)?;
        let source = Inputs {
            path: images,
            model: &a.model,
            preprocess: a.preprocess.as_deref(),
            what: "--images",
        };
        let inputs = read_inputs(&source, graph.input_shape().len(), None)?;
        let n_all = inputs.len();
        let range = parse_range(a.range.as_deref(), n_all, "--range")?;
        let inputs = inputs[range.clone()].to_vec();
        let t0 = Instant::now();
        let logits = run_all(&graph, &inputs, "model")?;
        let secs = t0.elapsed().as_secs_f64();
        let dense = match &a.dense {
            None => None,
            Some(p) if p.extension().is_some_and(|e| e == "npy") => {
                let classes = graph.output_shape().len();
                let rows = read_rows(p, classes)?;
                if rows.len() != n_all {
                    return Err(Error::BadArgument {
                        what: "--dense".into(),
                        detail: format!("{} rows of logits for {n_all} images", rows.len()),
                    });
                }
                Some(rows[range.clone()].to_vec())
            }
            Some(p) => Some(run_all(&load_model(p)?, &inputs, "dense")?),
        };
        let labels = match &a.labels {
            Some(p) => {
                let l = read_labels(p)?;
                if l.len() != n_all {
                    return Err(Error::BadArgument {
                        what: "--labels".into(),
                        detail: format!("{} labels for {n_all} images", l.len()),
                    });
                }
                Some(
                    l[range.clone()]
                        .iter()
                        .map(|v| v + a.label_offset)
                        .collect::<Vec<_>>(),
                )
            }
            None => None,
        };
        let n = logits.len();
        let top1: Vec<usize> = logits.iter().map(|l| argmax(l)).collect();
        let correct = labels
            .as_ref()
            .map(|l| top1.iter().zip(l).filter(|(p, l)| p == l).count());
        let dense_stats = dense.as_ref().map(|d| {
            let agree = d.iter().zip(&top1).filter(|(d, &p)| argmax(d) == p).count();
            let kl = d.iter().zip(&logits).map(|(d, p)| kl(d, p)).sum::<f64>() / n.max(1) as f64;
            let dense_correct = labels
                .as_ref()
                .map(|l| d.iter().zip(l).filter(|(d, &l)| argmax(d) == l).count());
            (agree, kl, dense_correct)
        });
        if a.json {
            let opt = |v: Option<usize>| v.map_or("null".to_string(), |v| v.to_string());
            let (agree, kl, dense_correct) = dense_stats.map_or(
                ("null".to_string(), "null".to_string(), "null".to_string()),
                |(a, k, d)| (a.to_string(), format!("{k:.6}"), opt(d)),
            );
            println!(
                "{{\"model\": \"{}\", \"images\": [{}, {}], \"n\": {n}, \"top1_correct\": {}, \
                 \"dense_top1_correct\": {dense_correct}, \"agreement\": {agree}, \
                 \"mean_kl\": {kl}, \"seconds\": {secs:.2}}}",
                a.model.display(),
                range.start,
                range.end,
                opt(correct),
            );
        } else {
            println!("{}: images {range:?} ({n}), {secs:.1} s", a.model.display());
            if let Some(c) = correct {
                println!("  top-1 correct:          {c}/{n}");
            }
            if let Some((agree, kl, dense_correct)) = dense_stats {
                if let Some(d) = dense_correct {
                    println!("  dense top-1 correct:    {d}/{n}");
                }
                println!("  top-1 agreement:        {agree}/{n}");
                println!("  mean KL(dense‖model):   {kl:.4}");
            }
        }
        Ok(())
    }

    fn schedule(name: &str, layers: &[String]) -> Result<Schedule> {
        if !layers.is_empty() {
            let mut map = BTreeMap::new();
            for l in layers {
                let (k, v) = l
                    .rsplit_once('=')
                    .ok_or_else(|| bad("--layer", format!("{l:?} is not NAME=SPARSITY")))?;
                let s = v
                    .parse()
                    .map_err(|_| bad("--layer", format!("{v:?} is not a number")))?;
                map.insert(k.to_string(), s);
            }
            return Ok(Schedule::PerLayer(map));
        }
        match name {
            "uniform" => Ok(Schedule::Uniform),
            "protect-small" => Ok(Schedule::ProtectSmall),
            _ => Err(bad(
                "--schedule",
                format!("unknown schedule {name:?}, expected uniform or protect-small"),
            )),
        }
    }

    fn load_model(p: &Path) -> Result<Graph> {
        load_packed(p).map(|(g, _)| g)
    }

    /// An ONNX or .zsk model (told apart by the .zsk magic) or a TF.js graph model (its
    /// model.json, shards beside it), with the SpMM streams a .zsk stores (indexed by node;
    /// empty otherwise).
    fn load_packed(p: &Path) -> Result<(Graph, Vec<Option<zeroskip::sparse::SpmmWeights>>)> {
        if p.extension().is_some_and(|e| e == "json") {
            return Ok((import::tfjs::load_file(p)?.graph, Vec::new()));
        }
        let bytes = std::fs::read(p).map_err(|e| io(p, e))?;
        let name = p.display().to_string();
        if bytes.starts_with(zeroskip::zsk::MAGIC) {
            let m = zeroskip::zsk::load(&name, &bytes)?;
            return Ok((m.graph, m.packed));
        }
        Ok((import::onnx::load(&name, &bytes)?, Vec::new()))
    }

    fn run_pack(a: PackArgs) -> Result<()> {
        let graph = load_model(&a.model)?;
        let precision = if a.fp16 {
            zeroskip::zsk::Precision::F16
        } else {
            zeroskip::zsk::Precision::F32
        };
        let bytes = zeroskip::zsk::write(&graph, precision)?;
        std::fs::write(&a.output, &bytes).map_err(|e| io(&a.output, e))?;
        let before = std::fs::metadata(&a.model).map(|m| m.len()).unwrap_or(0);
        println!(
            "{} -> {}: {} bytes ({:.1}% of {} bytes)",
            a.model.display(),
            a.output.display(),
            bytes.len(),
            100.0 * bytes.len() as f64 / before.max(1) as f64,
            before
        );
        Ok(())
    }

    /// Where `--calib` / `--images` come from.
    struct Inputs<'a> {
        path: &'a Path,
        model: &'a Path,
        preprocess: Option<&'a Path>,
        what: &'a str,
    }

    /// Every input of `per` floats in a `[N, ...]` .npy file, in each .npy of a directory (in
    /// name order), or decoded from each photo of a directory (the first `max` photos).
    fn read_inputs(src: &Inputs, per: usize, max: Option<usize>) -> Result<Vec<Vec<f32>>> {
        let p = src.path;
        if p.is_dir() && !images::list(p)?.is_empty() {
            return read_photos(src, per, max);
        }
        let files = if p.is_dir() {
            let mut f: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| io(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "npy"))
                .collect();
            f.sort();
            f
        } else {
            vec![p.to_path_buf()]
        };
        let mut out = Vec::new();
        for f in files {
            out.extend(read_rows(&f, per)?);
        }
        if out.is_empty() {
            return Err(Error::BadCalibration {
                detail: format!("{} holds no inputs", p.display()),
            });
        }
        Ok(out)
    }

    /// The photos of the directory `src.path`, preprocessed by the model's json.
    fn read_photos(src: &Inputs, per: usize, max: Option<usize>) -> Result<Vec<Vec<f32>>> {
        let p = src.path;
        let has_npy = std::fs::read_dir(p)
            .map_err(|e| io(p, e))?
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|e| e == "npy"));
        if has_npy {
            return Err(bad(
                src.what,
                format!(
                    "{} holds both .npy arrays and photos: keep one kind",
                    p.display()
                ),
            ));
        }
        let json = match src.preprocess {
            Some(j) => j.to_path_buf(),
            None => {
                let beside = src.model.with_extension("json");
                if !beside.is_file() {
                    return Err(bad(
                        "--preprocess",
                        format!(
                            "{} is a directory of photos: name the model's preprocessing json \
                             (no {} beside the model)",
                            p.display(),
                            beside.display()
                        ),
                    ));
                }
                beside
            }
        };
        let pre = Preprocess::read(&json)?;
        if 3 * pre.size * pre.size != per {
            return Err(Error::BadCalibration {
                detail: format!(
                    "{} makes 3x{s}x{s} inputs, the model takes {per} values",
                    json.display(),
                    s = pre.size
                ),
            });
        }
        let bar = bar(0, "decoding photos");
        let out = images::load_folder_with(p, &pre, max, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        });
        bar.finish_and_clear();
        out
    }

    /// A .npy array split into rows of `per` values.
    fn read_rows(p: &Path, per: usize) -> Result<Vec<Vec<f32>>> {
        let bytes = std::fs::read(p).map_err(|e| io(p, e))?;
        let (shape, data) = npy::read_f32(&p.display().to_string(), &bytes)?;
        if per == 0 || data.len() % per != 0 {
            return Err(Error::Io {
                file: p.display().to_string(),
                detail: format!("shape {shape:?} is not a stack of {per}-value inputs"),
            });
        }
        Ok(data.chunks_exact(per).map(|c| c.to_vec()).collect())
    }

    /// `"labels": [..]` of a JSON file.
    fn read_labels(p: &Path) -> Result<Vec<usize>> {
        let text = std::fs::read_to_string(p).map_err(|e| io(p, e))?;
        let err = || Error::Io {
            file: p.display().to_string(),
            detail: "no \"labels\": [integers] array".into(),
        };
        let start = text.find("\"labels\"").ok_or_else(err)?;
        let open = start + text[start..].find('[').ok_or_else(err)? + 1;
        let close = open + text[open..].find(']').ok_or_else(err)?;
        text[open..close]
            .split(',')
            .map(|s| s.trim().parse().map_err(|_| err()))
            .collect()
    }

    fn select(v: Vec<Vec<f32>>, range: Option<&str>, what: &str) -> Result<Vec<Vec<f32>>> {
        let r = parse_range(range, v.len(), what)?;
        Ok(v[r].to_vec())
    }

    /// `"a..b"` within `0..n` (default: all of it).
    fn parse_range(s: Option<&str>, n: usize, what: &str) -> Result<Range<usize>> {
        let Some(s) = s else { return Ok(0..n) };
        let parsed = s
            .split_once("..")
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
        match parsed {
            Some((a, b)) if a < b && b <= n => Ok(a..b),
            _ => Err(bad(
                what,
                format!("{s:?} is not a non-empty range a..b within 0..{n}"),
            )),
        }
    }

    fn run_all(graph: &Graph, inputs: &[Vec<f32>], what: &str) -> Result<Vec<Vec<f32>>> {
        let bar = bar(inputs.len() as u64, what);
        let out = inputs
            .iter()
            .map(|x| {
                let y = reference::run(graph, x);
                bar.inc(1);
                y
            })
            .collect();
        bar.finish_and_clear();
        out
    }

    fn bar(len: u64, msg: &str) -> ProgressBar {
        let b = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
        {
            b.set_style(style.progress_chars("=> "));
        }
        b.set_message(msg.to_string());
        b
    }

    fn argmax(v: &[f32]) -> usize {
        v.iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
                if x > bv {
                    (i, x)
                } else {
                    (bi, bv)
                }
            })
            .0
    }

    /// Streams a continuation of the prompt; stops at `max_tokens`, the end-of-sequence token
    /// or any control token (`<|im_end|>` ends a chat turn).
    fn run_generate(a: GenerateArgs) -> Result<()> {
        use std::io::Write;
        use zeroskip::llm::llama::Llama;
        use zeroskip::llm::sampler::{Sampler, SamplerConfig};
        use zeroskip::llm::tokenizer::{Message, TokenKind, Tokenizer};

        let mut sampler = Sampler::new(SamplerConfig {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
        })?;
        let t0 = Instant::now();
        let bytes = std::fs::read(&a.model).map_err(|e| io(&a.model, e))?;
        let name = a.model.display().to_string();
        let (mut model, tok) = Llama::load_with(&name, bytes, Tokenizer::from_gguf)?;
        if a.no_act {
            model.set_act(None)?;
        }
        let load_s = t0.elapsed().as_secs_f64();

        let mut ids = Vec::new();
        if tok.add_bos {
            ids.extend(tok.bos);
        }
        if a.chat {
            let text = tok
                .chat_template()?
                .render(&[Message::new("user", &a.prompt)], true);
            ids.extend(tok.encode(&text, true));
        } else {
            ids.extend(tok.encode(&a.prompt, false));
        }
        if ids.is_empty() {
            return Err(bad("--prompt", "the prompt has no tokens".into()));
        }
        let c = &model.cfg;
        let ctx = a
            .ctx
            .unwrap_or((ids.len() + a.max_tokens).min(c.context_length));
        let mut s = model.session(ctx)?;
        eprintln!(
            "{name}: {} layers, dim {}, {}/{} heads, vocab {}; weights {:.1} MB ({}), KV cache + \
             scratch {:.1} MB for {ctx} positions; loaded in {:.2}s",
            c.n_layers,
            c.dim,
            c.n_heads,
            c.n_kv_heads,
            c.vocab_size,
            model.weights.resident_bytes() as f64 / 1e6,
            {
                let mut k: Vec<&str> = model
                    .weights
                    .kernels()
                    .into_iter()
                    .map(|(_, k)| k)
                    .collect();
                k.sort_unstable();
                k.dedup();
                k.join(", ")
            },
            s.bytes() as f64 / 1e6,
            load_s
        );
        let max_new = a.max_tokens.min(ctx.saturating_sub(ids.len()));

        let mut out = std::io::stdout().lock();
        let mut stream = tok.stream();
        let t1 = Instant::now();
        let mut next = sampler.sample(model.prefill(&mut s, &ids)?)?;
        let prefill_s = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let mut generated = 0;
        let mut decoded = 0;
        while generated < max_new {
            let stop = Some(next) == tok.eos || tok.kind(next) == Some(TokenKind::Control);
            if stop {
                break;
            }
            generated += 1;
            write!(out, "{}", stream.push(next)?).map_err(|e| io(Path::new("stdout"), e))?;
            out.flush().map_err(|e| io(Path::new("stdout"), e))?;
            if generated == max_new {
                break;
            }
            next = sampler.sample(model.decode(&mut s, next)?)?;
            decoded += 1;
        }
        writeln!(out, "{}", stream.finish()).map_err(|e| io(Path::new("stdout"), e))?;
        let decode_s = t2.elapsed().as_secs_f64();
        eprintln!(
            "prefill: {} tokens in {:.3}s ({:.1} tok/s); decode: {decoded} tokens in {:.3}s \
             ({:.1} tok/s)",
            ids.len(),
            prefill_s,
            ids.len() as f64 / prefill_s,
            decode_s,
            decoded as f64 / decode_s.max(1e-9)
        );
        let act = s.act_total();
        match model.act() {
            Some(x) => eprintln!(
                "activation sparsity ({}, calibrated for {}): {:.1}% of the linear multiply-adds \
                 had a zero input over {} decoded tokens, {:.1}% were skipped",
                x.method.name(),
                x.target,
                100.0 * act.zero_fraction(),
                act.tokens,
                100.0 * act.skipped_fraction()
            ),
            None => eprintln!("activation sparsity: none (dense inputs)"),
        }
        Ok(())
    }

    /// Sliding-window perplexity of the GGUF `a.model` on a split of the text file `text`.
    fn run_ppl(a: &EvalArgs, text: &Path) -> Result<()> {
        use zeroskip::llm::llama::Llama;
        use zeroskip::llm::ppl::{perplexity_threads, split_text, windows, PplConfig};
        use zeroskip::llm::tokenizer::Tokenizer;

        let raw = std::fs::read(text).map_err(|e| io(text, e))?;
        let raw = String::from_utf8(raw).map_err(|e| Error::Io {
            file: text.display().to_string(),
            detail: format!("not UTF-8 text: {e}"),
        })?;
        let split = split_text(&raw);
        let part = match a.split.as_str() {
            "eval" => split.eval,
            "calib" => split.calib,
            "all" => raw.as_str(),
            other => {
                return Err(bad(
                    "--split",
                    format!("'{other}': expected eval, calib or all"),
                ))
            }
        };
        let bytes = std::fs::read(&a.model).map_err(|e| io(&a.model, e))?;
        let name = a.model.display().to_string();
        let (mut model, tok) = Llama::load_with(&name, bytes, Tokenizer::from_gguf)?;
        if a.densify {
            model.weights.densify();
        }
        if a.no_act {
            model.set_act(None)?;
        }
        // score what decode computes: the thresholds apply to every token
        model.set_act_prefill(true);
        let act_method = model.act().map_or("none", |x| x.method.name());
        let mut ids = Vec::new();
        if tok.add_bos {
            ids.extend(tok.bos);
        }
        ids.extend(tok.encode(part, false));
        let total = ids.len();
        if let Some(n) = a.max_tokens {
            ids.truncate(n);
        }
        let cfg = PplConfig::new(model.cfg.context_length, a.ctx, a.stride);
        let n_windows = windows(ids.len(), cfg)?.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let scored = ids.len().saturating_sub(1) as u64;
        let b = bar(scored, &format!("tokens ({n_windows} windows)"));
        let t0 = Instant::now();
        let r = perplexity_threads(&model, &ids, cfg, threads, |n| b.set_position(n as u64))?;
        let secs = t0.elapsed().as_secs_f64();
        b.finish_and_clear();
        let tps = r.tokens_run as f64 / secs.max(1e-9);
        if a.json {
            println!(
                "{{\"model\": \"{name}\", \"text\": \"{}\", \"split\": \"{}\", \"ppl\": {:.4}, \
                 \"mean_nll\": {:.6}, \"tokens\": {}, \"ctx\": {}, \"stride\": {}, \
                 \"windows\": {}, \"tokens_run\": {}, \"seconds\": {secs:.2}, \
                 \"tok_per_s\": {tps:.1}, \"act_method\": \"{act_method}\", \
                 \"act_zero\": {:.4}, \"act_skipped\": {:.4}}}",
                text.display(),
                a.split,
                r.ppl,
                r.mean_nll,
                r.n_tokens,
                cfg.ctx,
                cfg.stride,
                r.windows,
                r.tokens_run,
                r.act.zero_fraction(),
                r.act.skipped_fraction(),
            );
        } else {
            println!(
                "{name}: {} split of {} ({} of {total} tokens), ctx {}, stride {}",
                a.split,
                text.display(),
                ids.len(),
                cfg.ctx,
                cfg.stride
            );
            println!("  perplexity:  {:.3}", r.ppl);
            println!("  mean NLL:    {:.5} nats", r.mean_nll);
            println!(
                "  scored:      {} tokens in {} windows",
                r.n_tokens, r.windows
            );
            println!(
                "  speed:       {} tokens run in {secs:.1} s ({tps:.1} tok/s)",
                r.tokens_run
            );
            println!(
                "  activation:  {act_method}: {:.1}% of the linear multiply-adds had a zero \
                 input, {:.1}% were skipped",
                100.0 * r.act.zero_fraction(),
                100.0 * r.act.skipped_fraction()
            );
        }
        Ok(())
    }

    /// KL(softmax(p) ‖ softmax(q)) in nats, from logits.
    fn kl(p: &[f32], q: &[f32]) -> f64 {
        let log_softmax = |v: &[f32]| {
            let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = m + v.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
            v.iter().map(|&x| x as f64 - lse).collect::<Vec<f64>>()
        };
        let (lp, lq) = (log_softmax(p), log_softmax(q));
        lp.iter().zip(&lq).map(|(a, b)| a.exp() * (a - b)).sum()
    }

    fn io(p: &Path, e: std::io::Error) -> Error {
        Error::Io {
            file: p.display().to_string(),
            detail: e.to_string(),
        }
    }

    fn bad(what: &str, detail: String) -> Error {
        Error::BadArgument {
            what: what.into(),
            detail,
        }
    }
}
