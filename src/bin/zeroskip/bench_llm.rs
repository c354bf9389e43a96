//! `zeroskip bench-llm`: decode and prefill speed of llama files on the native backends — the
//! GPU path through wgpu (Vulkan: Mesa lavapipe here, a real GPU elsewhere) and the CPU path —
//! in one run, with each file's ratio to the first (the dense baseline) on the same backend and
//! its greedy tokens checked against the CPU's. Prints a table and writes JSON.

use std::path::PathBuf;
use std::time::Instant;
use zeroskip::error::{Error, Result};
use zeroskip::gpu::llm::Generator;
use zeroskip::gpu::{Backend, GpuContext};
use zeroskip::llm::llama::Llama;
use zeroskip::llm::tokenizer::Tokenizer;

#[derive(clap::Args)]
pub struct BenchLlmArgs {
    /// llama GGUF / sparse .zsk files; the first is the baseline of the ratios.
    #[arg(required = true)]
    models: Vec<PathBuf>,
    /// Backends to time, comma-separated: webgpu, wasm (the CPU kernels, native here).
    #[arg(long, default_value = "webgpu,wasm")]
    backends: String,
    /// Prompt tokens (prefill).
    #[arg(long, default_value_t = 16)]
    prompt_tokens: usize,
    /// Greedy tokens decoded per run.
    #[arg(long, default_value_t = 16)]
    tokens: usize,
    /// Timed runs (the median is reported), after one untimed run.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Where to write the JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also time each dispatch of a GPU decode step on its own (after the timed runs, at the
    /// position they reached) and print the time per kernel: where a token's time goes.
    #[arg(long)]
    kernels: bool,
}

/// One kernel's share of a decode step: its dispatches, each submitted and waited for alone
/// (the sum exceeds a step's time by the per-submit overhead).
#[derive(serde::Serialize)]
struct KernelTime {
    kernel: String,
    dispatches: usize,
    ms: f64,
}

/// Per kernel, in order of total time.
fn by_kernel(steps: Vec<(String, f64)>) -> Vec<KernelTime> {
    let mut out: Vec<KernelTime> = Vec::new();
    for (kernel, s) in steps {
        match out.iter_mut().find(|k| k.kernel == kernel) {
            Some(k) => {
                k.dispatches += 1;
                k.ms += 1e3 * s;
            }
            None => out.push(KernelTime {
                kernel,
                dispatches: 1,
                ms: 1e3 * s,
            }),
        }
    }
    out.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    out
}

/// One (model, backend) row.
#[derive(serde::Serialize)]
struct Row {
    model: String,
    backend: String,
    adapter: Option<String>,
    prefill_tok_s: f64,
    decode_tok_s: f64,
    /// decode tok/s over the baseline file's on the same backend
    decode_vs_baseline: f64,
    prefill_vs_baseline: f64,
    /// the greedy tokens equal the CPU path's (or the index of the first difference)
    tokens_match_cpu: Option<bool>,
    first_divergence: Option<usize>,
    tokens: Vec<u32>,
    /// --kernels: the GPU decode step per kernel
    #[serde(skip_serializing_if = "Option::is_none")]
    kernels: Option<Vec<KernelTime>>,
}

const PROMPT: &str = "The capital of France is Paris. The capital of Germany is Berlin. The \
                      capital of Italy is Rome. The capital of Spain is";

fn io(p: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        file: p.display().to_string(),
        detail: e.to_string(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(a: BenchLlmArgs) -> Result<()> {
    let backends: Vec<Backend> = a
        .backends
        .split(',')
        .map(Backend::parse)
        .collect::<Result<_>>()?;
    let gpu = match pollster::block_on(GpuContext::new()) {
        Ok(c) => Some(c),
        Err(e) if backends.contains(&Backend::WebGpu) => return Err(e),
        Err(_) => None,
    };
    let mut rows: Vec<Row> = Vec::new();
    let bar = indicatif::ProgressBar::new((a.models.len() * backends.len()) as u64);
    for path in &a.models {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
        let (_, tok) = Llama::load_with(&name, bytes.clone(), Tokenizer::from_gguf)?;
        let mut ids: Vec<u32> = tok.encode(PROMPT, false);
        ids.truncate(a.prompt_tokens);
        let mut cpu_tokens: Option<Vec<u32>> = None;
        // the CPU first, so the GPU rows can say whether their tokens match
        let mut order = backends.clone();
        order.sort_by_key(|b| *b != Backend::Wasm);
        for &backend in &order {
            bar.set_message(format!("{name} on {}", backend.as_str()));
            let llama = Llama::load(&name, bytes.clone())?;
            let ctx_len = ids.len() + a.tokens + 1;
            let c = gpu.clone();
            let mut g = pollster::block_on(Generator::open(llama, ctx_len, backend, async {
                c.ok_or_else(|| Error::NoWebGpu {
                    detail: "no adapter".into(),
                })
            }))?;
            let mut pre = Vec::new();
            let mut dec = Vec::new();
            let mut tokens = Vec::new();
            for r in 0..=a.repeats {
                g.reset();
                let t0 = Instant::now();
                let mut t = pollster::block_on(g.prefill(&ids))?;
                let t1 = Instant::now();
                let mut out = vec![t];
                for _ in 1..a.tokens {
                    t = pollster::block_on(g.step(t))?;
                    out.push(t);
                }
                let t2 = Instant::now();
                if r > 0 {
                    pre.push(ids.len() as f64 / (t1 - t0).as_secs_f64());
                    dec.push((a.tokens - 1) as f64 / (t2 - t1).as_secs_f64());
                }
                tokens = out;
            }
            let divergence = cpu_tokens
                .as_ref()
                .filter(|_| backend != Backend::Wasm)
                .map(|c| c.iter().zip(&tokens).position(|(x, y)| x != y));
            if backend == Backend::Wasm {
                cpu_tokens = Some(tokens.clone());
            }
            let kernels = match g.gpu() {
                Some(m) if a.kernels => Some(by_kernel(m.time_steps(3)?)),
                _ => None,
            };
            rows.push(Row {
                model: name.clone(),
                backend: backend.as_str().into(),
                adapter: g.gpu().map(|m| m.adapter()),
                prefill_tok_s: median(pre),
                decode_tok_s: median(dec),
                decode_vs_baseline: 0.0,
                prefill_vs_baseline: 0.0,
                tokens_match_cpu: divergence.map(|d| d.is_none()),
                first_divergence: divergence.flatten(),
                tokens,
                kernels,
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let first = rows.first().map(|r| r.model.clone()).unwrap_or_default();
    let base: Vec<(String, f64, f64)> = rows
        .iter()
        .filter(|r| r.model == first)
        .map(|r| (r.backend.clone(), r.decode_tok_s, r.prefill_tok_s))
        .collect();
    for r in &mut rows {
        if let Some((_, d, p)) = base.iter().find(|(b, _, _)| *b == r.backend) {
            r.decode_vs_baseline = r.decode_tok_s / d;
            r.prefill_vs_baseline = r.prefill_tok_s / p;
        }
    }
    println!(
        "{:<48} {:<7} {:>10} {:>8} {:>10} {:>8}  greedy vs cpu",
        "model", "backend", "decode t/s", "vs base", "prefill t/s", "vs base"
    );
    for r in &rows {
        let m = match (r.tokens_match_cpu, r.first_divergence) {
            (None, _) => "-".to_string(),
            (Some(true), _) => "same".into(),
            (Some(false), Some(i)) => format!("differs at {i}"),
            (Some(false), None) => "differs".into(),
        };
        println!(
            "{:<48} {:<7} {:>10.2} {:>7.2}x {:>10.2} {:>7.2}x  {m}",
            r.model,
            r.backend,
            r.decode_tok_s,
            r.decode_vs_baseline,
            r.prefill_tok_s,
            r.prefill_vs_baseline
        );
    }
    for r in rows.iter().filter(|r| r.kernels.is_some()) {
        let ks = r.kernels.as_deref().unwrap_or_default();
        let total: f64 = ks.iter().map(|k| k.ms).sum();
        println!(
            "\n{} on {}: a decode step's dispatches, each alone: {total:.1} ms",
            r.model, r.backend
        );
        for k in ks {
            println!(
                "  {:<40} {:>4} x {:>9.2} ms {:>5.1}%",
                k.kernel,
                k.dispatches,
                k.ms,
                100.0 * k.ms / total.max(1e-12)
            );
        }
    }
    if let Some(adapter) = rows.iter().find_map(|r| r.adapter.clone()) {
        println!("webgpu adapter: {adapter} (native wgpu, Vulkan)");
    }
    if let Some(p) = &a.json {
        let json = serde_json::json!({
            "what": "zeroskip bench-llm: native wgpu (Vulkan) and the native CPU path, same run",
            "prompt_tokens": a.prompt_tokens,
            "decode_tokens": a.tokens,
            "repeats": a.repeats,
            "baseline": first,
            "rows": rows,
        });
        let text = serde_json::to_string_pretty(&json).map_err(|e| io(p, e))?;
        std::fs::write(p, text).map_err(|e| io(p, e))?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
