//! The dispatch convention of the LLM shaders, and a runner that executes a list of
//! [`OpSpec`]s on fresh buffers: what the shader tests use to check each op against the CPU
//! kernels without building a whole model.

use super::PARAM_WORDS;
use crate::error::{Error, GpuFailure, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::shaders::Pipeline;
use wgpu::util::DeviceExt;

/// Words of the per-call uniform.
pub const STATE_WORDS: usize = 8;

/// The per-call uniform every LLM shader binds at 1 (WGSL: `struct State { pos0: u32, t: u32,
/// top_k: u32, temperature: f32, pad: vec4<u32> }`): written once before each command buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct State {
    /// Position of the call's first token.
    pub pos0: u32,
    /// Tokens in the call (1 at decode, up to the prefill chunk).
    pub t: u32,
    /// Candidates the sampler keeps (1 = greedy).
    pub top_k: u32,
    /// Sampling temperature (0 = greedy).
    pub temperature: f32,
}

impl State {
    /// The uniform's bytes.
    pub fn words(&self) -> [u32; STATE_WORDS] {
        [
            self.pos0,
            self.t,
            self.top_k,
            self.temperature.to_bits(),
            0,
            0,
            0,
            0,
        ]
    }

    /// The uniform's bytes, on the stack (written before every command buffer).
    pub fn bytes(&self) -> [u8; 4 * STATE_WORDS] {
        let mut out = [0u8; 4 * STATE_WORDS];
        for (o, w) in out.chunks_exact_mut(4).zip(self.words()) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// One dispatch before any buffer exists: the pipeline, its static uniform words, the storage
/// buffers it binds (handles of the caller's choosing, bindings 2.. in order), and its
/// workgroup counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSpec<B> {
    pub pipeline: Pipeline,
    /// At most [`PARAM_WORDS`] words (`Params` at binding 0).
    pub params: Vec<u32>,
    /// Storage buffers at bindings 2, 3, …
    pub binds: Vec<B>,
    /// Workgroups along x, y, z.
    pub groups: [u32; 3],
    /// The axis whose count is multiplied by the call's token count `State::t` (prefill
    /// attention runs a row of workgroups per token); `None`: fixed.
    pub per_token: Option<usize>,
}

impl<B> OpSpec<B> {
    /// The workgroup counts of a call of `t` tokens.
    pub fn groups_for(&self, t: u32) -> [u32; 3] {
        let mut g = self.groups;
        if let Some(a) = self.per_token {
            g[a] *= t.max(1);
        }
        g
    }

    /// The same dispatch over other buffer handles.
    pub fn map<C>(self, f: impl FnMut(B) -> C) -> OpSpec<C> {
        OpSpec {
            pipeline: self.pipeline,
            params: self.params,
            binds: self.binds.into_iter().map(f).collect(),
            groups: self.groups,
            per_token: self.per_token,
        }
    }
}

/// Little-endian bytes of a word slice (params, u32 buffers).
pub fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Little-endian bytes of f32s.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A buffer of the runner: its initial bytes (padded to 16 and to a multiple of 4).
#[derive(Debug, Clone)]
pub struct Init(pub Vec<u8>);

impl Init {
    pub fn f32(v: &[f32]) -> Init {
        Init(f32_bytes(v))
    }
    pub fn u32(v: &[u32]) -> Init {
        Init(u32_bytes(v))
    }
    /// `n` zero floats.
    pub fn zeros(n: usize) -> Init {
        Init(vec![0; 4 * n])
    }
}

/// Creates a storage buffer holding `bytes` (padded to a multiple of 4, at least 16 bytes:
/// WebGPU refuses empty bindings).
pub(crate) fn storage(dev: &wgpu::Device, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let mut contents = bytes.to_vec();
    contents.resize(contents.len().next_multiple_of(4).max(16), 0);
    dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: &contents,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
    })
}

/// Checks a spec against the convention before anything is created.
pub(crate) fn check_spec<B>(s: &OpSpec<B>) -> Result<()> {
    if s.params.len() > PARAM_WORDS {
        return Err(Error::Gpu {
            kind: GpuFailure::Validation,
            detail: format!(
                "{}: {} uniform words, at most {PARAM_WORDS}",
                s.pipeline.name,
                s.params.len()
            ),
        });
    }
    Ok(())
}

/// A bind group of `spec` over `params` (its uniform words), `state` and `bufs`.
pub(crate) fn bind_group(
    dev: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    params: &wgpu::Buffer,
    state: &wgpu::Buffer,
    bufs: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let mut entries = vec![
        wgpu::BindGroupEntry {
            binding: 0,
            resource: params.as_entire_binding(),
        },
        wgpu::BindGroupEntry {
            binding: 1,
            resource: state.as_entire_binding(),
        },
    ];
    for (i, b) in bufs.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: 2 + i as u32,
            resource: b.as_entire_binding(),
        });
    }
    dev.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// A uniform buffer of `words`, padded to [`PARAM_WORDS`].
pub(crate) fn params_buffer(dev: &wgpu::Device, label: &str, words: &[u32]) -> wgpu::Buffer {
    let mut w = words.to_vec();
    w.resize(PARAM_WORDS.max(w.len()), 0);
    dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: &u32_bytes(&w),
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// Runs `specs` in order, in one command buffer, over buffers made from `init` (a spec's
/// handle `i` is `init[i]`), with `state` as the per-call uniform, and reads back the buffers
/// listed in `read` (as little-endian words, each its whole length). For the shader tests;
/// the session keeps its buffers and bind groups instead.
pub async fn run_specs(
    ctx: &GpuContext,
    specs: &[OpSpec<usize>],
    init: &[Init],
    state: State,
    read: &[usize],
) -> Result<Vec<Vec<u32>>> {
    for s in specs {
        check_spec(s)?;
        if let Some(&b) = s.binds.iter().find(|&&b| b >= init.len()) {
            return Err(Error::BadArgument {
                what: s.pipeline.name.clone(),
                detail: format!("binds buffer {b} of {}", init.len()),
            });
        }
    }
    let mut pipelines = Vec::with_capacity(specs.len());
    for s in specs {
        pipelines.push(ctx.pipeline(&s.pipeline).await?);
    }
    let dev = ctx.device();
    let (bufs, staging) = ctx
        .scoped(GpuFailure::Validation, "creating test buffers", || {
            let bufs: Vec<wgpu::Buffer> = init
                .iter()
                .enumerate()
                .map(|(i, b)| storage(dev, &format!("buffer {i}"), &b.0))
                .collect();
            let staging: Vec<wgpu::Buffer> = read
                .iter()
                .map(|&i| {
                    dev.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("readback"),
                        size: bufs[i].size(),
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    })
                })
                .collect();
            (bufs, staging)
        })
        .await?;
    ctx.scoped(GpuFailure::Validation, "running the ops", || {
        let st = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("state"),
            contents: &state.bytes(),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let groups: Vec<wgpu::BindGroup> = specs
            .iter()
            .zip(&pipelines)
            .map(|(s, p)| {
                let pb = params_buffer(dev, &s.pipeline.name, &s.params);
                let b: Vec<&wgpu::Buffer> = s.binds.iter().map(|&i| &bufs[i]).collect();
                bind_group(dev, p, &s.pipeline.name, &pb, &st, &b)
            })
            .collect();
        let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("llm ops"),
        });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            for ((s, p), g) in specs.iter().zip(&pipelines).zip(&groups) {
                pass.set_pipeline(p);
                pass.set_bind_group(0, g, &[]);
                let [x, y, z] = s.groups_for(state.t);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        for (&i, st) in read.iter().zip(&staging) {
            enc.copy_buffer_to_buffer(&bufs[i], 0, st, 0, bufs[i].size());
        }
        ctx.queue().submit([enc.finish()]);
    })
    .await?;
    let mut out = Vec::with_capacity(read.len());
    for (st, &i) in staging.iter().zip(read) {
        let words = (bufs[i].size() / 4) as usize;
        let v = ctx.read_back(st, words).await?;
        out.push(v.into_iter().map(f32::to_bits).collect());
    }
    Ok(out)
}
