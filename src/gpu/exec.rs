//! Runs a lowered graph on the GPU: everything (pipelines, pooled activation buffers, weight
//! buffers, uniform blocks, bind groups) is created once in `GpuSession::new`; a run writes
//! the input, records every dispatch into one compute pass, copies the output into a staging
//! buffer and reads it back once. Activations never leave the GPU in between.

use super::context::GpuContext;
use super::lower::{lower, DeviceLimits, GpuLayer, GpuOptions, Lowered, PARAM_WORDS};
use crate::error::{Error, GpuFailure, Result};
use crate::graph::{Graph, Shape};
use wgpu::util::DeviceExt;

/// One recorded dispatch.
#[derive(Debug)]
struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

/// A graph compiled for one device: run it with `run`, as often as wanted.
#[derive(Debug)]
pub struct GpuSession {
    ctx: GpuContext,
    steps: Vec<Dispatch>,
    /// (slots,) the pooled activation buffers
    slots: Vec<wgpu::Buffer>,
    input: usize,
    output: usize,
    input_shape: Shape,
    output_shape: Shape,
    /// MAP_READ copy of the output, (output_shape.len(),)
    staging: wgpu::Buffer,
    report: Vec<GpuLayer>,
    /// Bytes of weights + activations the session holds on the device.
    weight_bytes: u64,
    activation_bytes: u64,
}

impl GpuSession {
    /// Lowers `graph` (typed errors for unsupported ops and sizes over the device's limits,
    /// before anything is allocated), compiles or reuses the pipelines, and uploads the
    /// weights.
    pub async fn new(ctx: &GpuContext, graph: &Graph, opts: GpuOptions) -> Result<GpuSession> {
        ctx.check()?;
        let limits = ctx.limits();
        let low = lower(graph, opts, DeviceLimits::of(&limits))?;
        let mut pipelines = Vec::with_capacity(low.steps.len());
        for s in &low.steps {
            pipelines.push(ctx.pipeline(&s.pipeline).await?);
        }
        let stride =
            PARAM_BYTES.next_multiple_of(limits.min_uniform_buffer_offset_alignment as u64);
        let what = format!("uploading {} to the GPU", graph.name);
        let built = ctx
            .scoped(GpuFailure::Validation, &what, || {
                build(ctx, &low, &pipelines, stride)
            })
            .await?;
        let (steps, slots, weight_bytes) = built;
        let out_len = graph.output_shape().len();
        let staging = ctx
            .scoped(
                GpuFailure::Validation,
                "creating the readback buffer",
                || {
                    ctx.device().create_buffer(&wgpu::BufferDescriptor {
                        label: Some("output readback"),
                        size: 4 * out_len as u64,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    })
                },
            )
            .await?;
        let activation_bytes = low.slot_len.iter().map(|&n| 4 * n.max(4) as u64).sum();
        Ok(GpuSession {
            ctx: ctx.clone(),
            steps,
            slots,
            input: low.input,
            output: low.output,
            input_shape: graph.input_shape(),
            output_shape: graph.output_shape(),
            staging,
            report: low.report,
            weight_bytes,
            activation_bytes,
        })
    }

    pub fn input_shape(&self) -> Shape {
        self.input_shape
    }
    pub fn output_shape(&self) -> Shape {
        self.output_shape
    }
    /// What runs for each graph node.
    pub fn report(&self) -> &[GpuLayer] {
        &self.report
    }
    /// Dispatches one run records.
    pub fn dispatches(&self) -> usize {
        self.steps.len()
    }
    /// Pooled activation buffers, and their total bytes: the liveness reuse at work.
    pub fn buffers(&self) -> (usize, u64) {
        (self.slots.len(), self.activation_bytes)
    }
    /// Bytes of packed weights on the device (CSR streams for sparse layers).
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    /// `input (C, H, W)` → the output tensor, read back once at the end.
    pub async fn run(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let want = self.input_shape.len();
        if input.len() != want {
            return Err(Error::ShapeMismatch {
                tensor: "input".into(),
                what: format!("image {}", self.input_shape),
                expected: want,
                got: input.len(),
            });
        }
        let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
        let out_bytes = 4 * self.output_shape.len() as u64;
        let ctx = &self.ctx;
        ctx.scoped(GpuFailure::Validation, "running the network", || {
            ctx.queue().write_buffer(&self.slots[self.input], 0, &bytes);
            let mut enc = ctx
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("zeroskip run"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                for d in &self.steps {
                    pass.set_pipeline(&d.pipeline);
                    pass.set_bind_group(0, &d.bind_group, &[]);
                    let [x, y, z] = d.groups;
                    pass.dispatch_workgroups(x, y, z);
                }
            }
            enc.copy_buffer_to_buffer(&self.slots[self.output], 0, &self.staging, 0, out_bytes);
            ctx.queue().submit([enc.finish()]);
        })
        .await?;
        ctx.read_back(&self.staging, self.output_shape.len()).await
    }
}

/// Bytes of one step's uniform block.
const PARAM_BYTES: u64 = 4 * PARAM_WORDS as u64;

type Built = (Vec<Dispatch>, Vec<wgpu::Buffer>, u64);

/// Creates the buffers and bind groups of `low` (inside the caller's error scope).
fn build(
    ctx: &GpuContext,
    low: &Lowered,
    pipelines: &[wgpu::ComputePipeline],
    stride: u64,
) -> Built {
    let dev = ctx.device();
    let storage = wgpu::BufferUsages::STORAGE;
    // At least 16 bytes: WebGPU refuses zero-sized bindings.
    let slots: Vec<wgpu::Buffer> = low
        .slot_len
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("activations {i}")),
                size: 4 * n.max(4) as u64,
                usage: storage | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        })
        .collect();
    let mut params = Vec::with_capacity(low.steps.len() * stride as usize);
    for s in &low.steps {
        let at = params.len();
        params.extend(s.params.iter().flat_map(|w| w.to_le_bytes()));
        params.resize(at + stride as usize, 0);
    }
    let uniforms = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("step params"),
        contents: if params.is_empty() { &[0; 16] } else { &params },
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let mut weight_bytes = 0;
    let mut steps = Vec::with_capacity(low.steps.len());
    for (i, (s, pipeline)) in low.steps.iter().zip(pipelines).enumerate() {
        let weights: Vec<wgpu::Buffer> = s
            .weights
            .iter()
            .map(|w| {
                weight_bytes += w.bytes();
                let mut contents = w.to_le_bytes();
                contents.resize(contents.len().max(16), 0);
                dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&format!("{} weights", s.pipeline.name)),
                    contents: &contents,
                    usage: storage,
                })
            })
            .collect();
        let mut resources = vec![wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &uniforms,
            offset: i as u64 * stride,
            size: wgpu::BufferSize::new(PARAM_BYTES),
        })];
        resources.extend(s.reads.iter().map(|&r| slots[r].as_entire_binding()));
        resources.extend(weights.iter().map(|w| w.as_entire_binding()));
        resources.push(slots[s.write].as_entire_binding());
        let entries: Vec<wgpu::BindGroupEntry> = resources
            .into_iter()
            .enumerate()
            .map(|(b, resource)| wgpu::BindGroupEntry {
                binding: b as u32,
                resource,
            })
            .collect();
        let bind_group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&s.pipeline.name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        steps.push(Dispatch {
            pipeline: pipeline.clone(),
            bind_group,
            groups: s.groups,
        });
    }
    (steps, slots, weight_bytes)
}
