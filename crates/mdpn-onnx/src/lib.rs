//! MDPN models as standard ONNX graphs (opset 17, standard operators only), for ONNX Runtime
//! and every other ONNX runner.
//!
//! The graph takes `image`, a `uint8` tensor `(N, C, H, W)` of raw pixel values, and gives
//! `probabilities` `(N, classes)`. An f32 model's synapses come in one of two forms
//! ([`Synapses`]). The default, [`Synapses::Tables`], is the 8-bit kernel's idea: a synapse sees
//! one of 256 pixel values, so `ln(Y + c)` of every synapse and pixel value is an initializer
//! `(window² · C · 256, M)`, and the dendrites are
//! 1. the window's pixels: `Slice` of the image at each of the `window²` offsets, `Concat`,
//!    `Cast` to int32, `Add` of each synapse's row offset into the table;
//! 2. one `Gather` of `M` dendrites per (window, synapse), `ReduceSum` over the synapses;
//! 3. membrane: max pool as `Reshape` + `ReduceMax`, already in the (channel, row, column,
//!    dendrite) order of the soma's inputs.
//!
//! It costs `window² · C · 256 · M` floats (1.28 MB for the default model) and runs about ten
//! times faster in ONNX Runtime than [`Synapses::Formulas`], the paper's formulas evaluated on
//! every window, as the library's plain kernel computes them:
//! 1. `Cast`, then `(x / 255 − mean) / std`;
//! 2. the windows: a `Conv` with fixed one-hot kernels (`window²` output channels per input
//!    channel) gives every pixel of every window position;
//! 3. synapses: `Y + c = atan(k·(x·w − q))/π + 1/2 + c`, broadcast over the `M` dendrites;
//! 4. dendrites: `Log`, then `ReduceSum` over the window's synapses (`Σ ln` = `ln Π`);
//! 5. membrane: `MaxPool`, then `Transpose` to the (channel, row, column, dendrite) order of the
//!    soma's inputs;
//! 6. soma: `Gemm` + `Relu`; axon: `Gemm` + `Softmax` (`Sigmoid` for a multi-label model).
//!
//! The int8 model ([`mdpn::quantized`]) is the same graph in QDQ form: its int8 weights through
//! `DequantizeLinear` (one scale per output row) and the soma's and axon's inputs through
//! `QuantizeLinear` + `DequantizeLinear` with their calibrated scale and zero point.

mod proto;

use mdpn::config::{Config, Task};
use mdpn::layers::linear::Linear;
use mdpn::quantized::{QuantizedLinear, QuantizedMdpn};
use mdpn::{Error, Mdpn, Result};
use prost::Message;

use proto::*;

/// The ONNX operator set the graphs use.
pub const OPSET: i64 = 17;
/// The ONNX IR version of that opset.
const IR_VERSION: i64 = 8;

/// How an f32 graph computes the synapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synapses {
    /// `ln(Y + c)` tabulated over the 256 pixel values and looked up (`Gather`).
    Tables,
    /// `Atan` and `Log` evaluated for every synapse of every window.
    Formulas,
}

/// The ONNX model of an f32 MDPN model, serialised.
pub fn export(model: &Mdpn, synapses: Synapses, producer: &str) -> Result<Vec<u8>> {
    let mut g = Graph::start(&model.config)?;
    let (w, q) = (&model.params.w, &model.params.q);
    let features = match synapses {
        Synapses::Tables => g.membrane_tables(w, q),
        Synapses::Formulas => g.membrane(w, q),
    };
    let soma = g.linear(&features, &model.params.soma, "soma");
    let hidden = g.node("Relu", &[&soma], vec![]);
    let logits = g.linear(&hidden, &model.params.axon, "axon");
    Ok(g.finish(&logits, producer))
}

/// The ONNX model of an int8 MDPN model in QDQ form, serialised.
pub fn export_int8(model: &QuantizedMdpn, producer: &str) -> Result<Vec<u8>> {
    let mut g = Graph::start(&model.config)?;
    let features = g.membrane(&model.w, &model.q);
    let soma = g.quantized_linear(&features, &model.soma, "soma");
    let hidden = g.node("Relu", &[&soma], vec![]);
    let logits = g.quantized_linear(&hidden, &model.axon, "axon");
    Ok(g.finish(&logits, producer))
}

/// A graph being built: nodes in order, constants, and a counter for fresh value names.
struct Graph {
    config: Config,
    nodes: Vec<NodeProto>,
    constants: Vec<TensorProto>,
    names: usize,
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: ATTRIBUTE_INT,
        ..Default::default()
    }
}

fn ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: ints.to_vec(),
        r#type: ATTRIBUTE_INTS,
        ..Default::default()
    }
}

/// A tensor value's type: element type and dimensions, `None` for the batch.
fn value(name: &str, elem_type: i32, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            dim_value: d.map(|v| v as i64),
            dim_param: d.is_none().then(|| "N".to_string()),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

impl Graph {
    fn start(config: &Config) -> Result<Graph> {
        if !config.paper_functions() {
            return Err(Error::Config(
                "ONNX export covers the paper's synapse (atan) and integration (log-product) only"
                    .into(),
            ));
        }
        Ok(Graph {
            config: config.clone(),
            nodes: Vec::new(),
            constants: Vec::new(),
            names: 0,
        })
    }

    fn fresh(&mut self, stem: &str) -> String {
        self.names += 1;
        format!("{stem}_{}", self.names)
    }

    /// Adds a node with one output and returns the output's name.
    fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.into(),
            attribute,
        });
        out
    }

    fn constant(
        &mut self,
        stem: &str,
        data_type: i32,
        dims: &[usize],
        raw_data: Vec<u8>,
    ) -> String {
        let name = self.fresh(stem);
        self.constants.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type,
            name: name.clone(),
            raw_data,
        });
        name
    }

    fn floats(&mut self, stem: &str, dims: &[usize], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(stem, FLOAT, dims, raw)
    }

    /// A shape or axes constant.
    fn int64s(&mut self, stem: &str, values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(stem, INT64, &[values.len()], raw)
    }

    fn reshape(&mut self, x: &str, shape: &[usize]) -> String {
        // 0 keeps the batch dimension.
        let dims: Vec<i64> = std::iter::once(0)
            .chain(shape.iter().map(|&d| d as i64))
            .collect();
        let shape = self.int64s("shape", &dims);
        self.node("Reshape", &[x, &shape], vec![])
    }

    /// The presynaptic, dendrite and membrane layers: from the input image to the soma's
    /// inputs `(N, features)`.
    fn membrane(&mut self, w: &[f32], q: &[f32]) -> String {
        let cfg = self.config.clone();
        let (c, m, win, s, p) = (
            cfg.channels,
            cfg.dendrites,
            cfg.window,
            cfg.dendrite_side(),
            cfg.pooled_side(),
        );
        let syn = cfg.synapses();
        let x = self.node("Cast", &["image"], vec![int("to", FLOAT as i64)]);
        let k255 = self.floats("c255", &[], &[255.0]);
        let mean = self.floats("mean", &[], &[cfg.mean]);
        let std = self.floats("std", &[], &[cfg.std]);
        let x = self.node("Div", &[&x, &k255], vec![]);
        let x = self.node("Sub", &[&x, &mean], vec![]);
        let x = self.node("Div", &[&x, &std], vec![]);
        // One-hot kernels: output channel `ch·syn + i·win + j` is pixel (i, j) of the window.
        let mut onehot = vec![0.0f32; c * syn * syn];
        for (o, kernel) in onehot.chunks_exact_mut(syn).enumerate() {
            kernel[o % syn] = 1.0;
        }
        let onehot = self.floats("windows", &[c * syn, 1, win, win], &onehot);
        let attrs = vec![
            int("group", c as i64),
            ints("kernel_shape", &[win as i64; 2]),
        ];
        let windows = self.node("Conv", &[&x, &onehot], attrs);
        // (N, C, 1, syn, S, S) against the synapses' (C, M, syn, 1, 1).
        let windows = self.reshape(&windows, &[c, 1, syn, s, s]);
        let wt = self.floats("w", &[c, m, syn, 1, 1], w);
        let qt = self.floats("q", &[c, m, syn, 1, 1], q);
        let k = self.floats("k", &[], &[cfg.k]);
        let z = self.node("Mul", &[&windows, &wt], vec![]);
        let z = self.node("Sub", &[&z, &qt], vec![]);
        let z = self.node("Mul", &[&z, &k], vec![]);
        let a = self.node("Atan", &[&z], vec![]);
        let inv_pi = self.floats("inv_pi", &[], &[std::f32::consts::FRAC_1_PI]);
        let half = self.floats("half", &[], &[0.5]);
        let offset = self.floats("c", &[], &[cfg.c]);
        let y = self.node("Mul", &[&a, &inv_pi], vec![]);
        let y = self.node("Add", &[&y, &half], vec![]);
        let y = self.node("Add", &[&y, &offset], vec![]);
        let ln = self.node("Log", &[&y], vec![]);
        let axis = self.int64s("axes", &[3]);
        let d = self.node("ReduceSum", &[&ln, &axis], vec![int("keepdims", 0)]);
        let d = self.reshape(&d, &[c * m, s, s]);
        let pool = cfg.pool as i64;
        let attrs = vec![
            ints("kernel_shape", &[pool; 2]),
            ints("strides", &[pool; 2]),
        ];
        let pooled = self.node("MaxPool", &[&d], attrs);
        let pooled = self.reshape(&pooled, &[c, m, p, p]);
        let t = self.node(
            "Transpose",
            &[&pooled],
            vec![ints("perm", &[0, 1, 3, 4, 2])],
        );
        self.node("Flatten", &[&t], vec![int("axis", 1)])
    }

    /// [`Graph::membrane`] by table look-ups: `ln(Y + c)` of every synapse at every pixel value,
    /// computed in f64 from the f32 normalised pixel the library sees, one `Gather` per window
    /// and synapse fetching all `M` dendrites.
    fn membrane_tables(&mut self, w: &[f32], q: &[f32]) -> String {
        let cfg = self.config.clone();
        let (c, m, win, s, p, pool) = (
            cfg.channels,
            cfg.dendrites,
            cfg.window,
            cfg.dendrite_side(),
            cfg.pooled_side(),
            cfg.pool,
        );
        let syn = cfg.synapses();
        // Row `(at·C + ch)·256 + v`: synapse `at` of every dendrite of channel `ch` at value `v`.
        let mut table = vec![0.0f32; syn * c * 256 * m];
        for (row, out) in table.chunks_exact_mut(m).enumerate() {
            let (at, ch, v) = (row / (c * 256), row / 256 % c, row % 256);
            let x = f64::from(cfg.normalise(v as u8));
            for (d, out) in out.iter_mut().enumerate() {
                let i = (ch * m + d) * syn + at;
                let z = f64::from(cfg.k) * (x * f64::from(w[i]) - f64::from(q[i]));
                let y = 0.5 + z.atan() * std::f64::consts::FRAC_1_PI + f64::from(cfg.c);
                *out = y.ln() as f32;
            }
        }
        let table = self.floats("synapse_tables", &[syn * c * 256, m], &table);
        // The pixels of every window at offset (i, j): (N, C, S, S) each, `syn · C` channels.
        let axes = self.int64s("axes", &[2, 3]);
        let offsets: Vec<String> = (0..syn)
            .map(|at| {
                let (i, j) = ((at / win) as i64, (at % win) as i64);
                let starts = self.int64s("starts", &[i, j]);
                let ends = self.int64s("ends", &[i + s as i64, j + s as i64]);
                self.node("Slice", &["image", &starts, &ends, &axes], vec![])
            })
            .collect();
        let refs: Vec<&str> = offsets.iter().map(String::as_str).collect();
        let pixels = self.node("Concat", &refs, vec![int("axis", 1)]);
        let pixels = self.node("Cast", &[&pixels], vec![int("to", INT32 as i64)]);
        let rows: Vec<u8> = (0..(syn * c) as i32)
            .flat_map(|r| (r * 256).to_le_bytes())
            .collect();
        let rows = self.constant("table_rows", INT32, &[1, syn * c, 1, 1], rows);
        let index = self.node("Add", &[&pixels, &rows], vec![]);
        // (N, syn · C, S, S, M), summed over the synapses: the dendrites (N, C, S, S, M).
        let looked_up = self.node("Gather", &[&table, &index], vec![int("axis", 0)]);
        let looked_up = self.reshape(&looked_up, &[syn, c, s, s, m]);
        let synapse_axis = self.int64s("axes", &[1]);
        let d = self.node(
            "ReduceSum",
            &[&looked_up, &synapse_axis],
            vec![int("keepdims", 0)],
        );
        // Max pool over the windows that reach it, in place of (row, column).
        let used = (p * pool) as i64;
        let d = if used < s as i64 {
            let (starts, ends) = (
                self.int64s("starts", &[0, 0]),
                self.int64s("ends", &[used; 2]),
            );
            self.node("Slice", &[&d, &starts, &ends, &axes], vec![])
        } else {
            d
        };
        let d = self.reshape(&d, &[c, p, pool, p, pool, m]);
        let pooled = self.node(
            "ReduceMax",
            &[&d],
            vec![ints("axes", &[3, 5]), int("keepdims", 0)],
        );
        self.node("Flatten", &[&pooled], vec![int("axis", 1)])
    }

    /// `x W^T + b`.
    fn linear(&mut self, x: &str, layer: &Linear, stem: &str) -> String {
        let w = self.floats(
            &format!("{stem}_weight"),
            &[layer.outputs, layer.inputs],
            &layer.weight,
        );
        let b = self.floats(&format!("{stem}_bias"), &[layer.outputs], &layer.bias);
        self.node("Gemm", &[x, &w, &b], vec![int("transB", 1)])
    }

    /// The int8 layer in QDQ form: the input quantized and dequantized with its calibrated
    /// scale and zero point, the int8 weights dequantized per output row.
    fn quantized_linear(&mut self, x: &str, layer: &QuantizedLinear, stem: &str) -> String {
        let scale = self.floats(&format!("{stem}_input_scale"), &[], &[layer.input.scale]);
        let zero = self.constant(
            &format!("{stem}_input_zero_point"),
            UINT8,
            &[],
            vec![layer.input.zero_point],
        );
        let xq = self.node("QuantizeLinear", &[x, &scale, &zero], vec![]);
        let x = self.node("DequantizeLinear", &[&xq, &scale, &zero], vec![]);
        let raw = layer.weight.iter().map(|&v| v as u8).collect();
        let w = self.constant(
            &format!("{stem}_weight"),
            INT8,
            &[layer.outputs, layer.inputs],
            raw,
        );
        let ws = self.floats(
            &format!("{stem}_weight_scale"),
            &[layer.outputs],
            &layer.weight_scale,
        );
        let w = self.node("DequantizeLinear", &[&w, &ws], vec![int("axis", 0)]);
        let b = self.floats(&format!("{stem}_bias"), &[layer.outputs], &layer.bias);
        self.node("Gemm", &[&x, &w, &b], vec![int("transB", 1)])
    }

    fn finish(mut self, logits: &str, producer: &str) -> Vec<u8> {
        let (op, attribute) = match self.config.task {
            Task::MultiClass => ("Softmax", vec![int("axis", 1)]),
            Task::MultiLabel => ("Sigmoid", vec![]),
        };
        self.nodes.push(NodeProto {
            input: vec![logits.into()],
            output: vec!["probabilities".into()],
            name: "probabilities".into(),
            op_type: op.into(),
            attribute,
        });
        let cfg = &self.config;
        let side = Some(cfg.image_size);
        let graph = GraphProto {
            node: self.nodes,
            name: "mdpn".into(),
            initializer: self.constants,
            input: vec![value(
                "image",
                UINT8,
                &[None, Some(cfg.channels), side, side],
            )],
            output: vec![value("probabilities", FLOAT, &[None, Some(cfg.classes)])],
        };
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: producer.into(),
            producer_version: String::new(),
            doc_string: "MDPN (Zhang et al., IEEE TAI 2024): uint8 image (N, C, H, W) of raw pixel values -> class probabilities (N, classes)".into(),
            graph: Some(graph),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
        }
        .encode_to_vec()
    }
}
