//! MDPN models as standard ONNX graphs (opset 17, standard operators only), for ONNX Runtime
//! and every other ONNX runner.
//!
//! The graph takes `image`, a `uint8` tensor `(N, C, H, W)` of raw pixel values, and gives
//! `probabilities` `(N, classes)`. Inside, as the library computes it:
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

/// The ONNX model of an f32 MDPN model, serialised.
pub fn export(model: &Mdpn, producer: &str) -> Result<Vec<u8>> {
    let mut g = Graph::start(&model.config)?;
    let features = g.membrane(&model.params.w, &model.params.q);
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
