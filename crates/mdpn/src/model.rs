//! The MDPN model: parameters, the forward pass (synapses → dendrites → membrane → soma → axon)
//! and the backward pass in reverse (loss → axon → soma → membrane → dendrites), layer by layer
//! as in the paper. Shapes are listed in [`crate::layers`].

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::config::{Config, Task};
// The inputs of a forward pass live in a leaf module of their own (so that the settings and the
// layers need not import the model); they are named here too, as before.
use crate::error::{Error, Result};
pub use crate::input::{Images, KernelChoice};
use crate::kernels;
use crate::kernels::lut::{TableCache, Tables};
use crate::kernels::plain::Plain;
use crate::layers::linear::Linear;
use crate::layers::{axon, loss, soma};
use crate::recipe::SynapseInit;

/// Trainable tensors. The same struct holds gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Synapse weights, `(C, M, window, window)`.
    pub w: Vec<f32>,
    /// Synapse thresholds, same layout.
    pub q: Vec<f32>,
    pub soma: Linear,
    pub axon: Linear,
}

/// Names of the tensors in the authors' PyTorch `state_dict`, in [`Params::tensors`] order.
pub const TENSOR_NAMES: [&str; 6] = [
    "model.0.params.w",
    "model.0.params.q",
    "model.2.fc.weight",
    "model.2.fc.bias",
    "model.3.fc.weight",
    "model.3.fc.bias",
];

impl Params {
    /// Gradient-shaped zeros for `config`.
    pub fn zeros(config: &Config) -> Params {
        let n = config.channels * config.dendrites * config.synapses();
        Params {
            w: vec![0.0; n],
            q: vec![0.0; n],
            soma: Linear::zeros(config.features(), config.hidden),
            axon: Linear::zeros(config.hidden, config.classes),
        }
    }

    /// The tensors in [`TENSOR_NAMES`] order.
    pub fn tensors(&self) -> [&[f32]; 6] {
        [
            &self.w,
            &self.q,
            &self.soma.weight,
            &self.soma.bias,
            &self.axon.weight,
            &self.axon.bias,
        ]
    }

    /// Mutable tensors in [`TENSOR_NAMES`] order.
    pub fn tensors_mut(&mut self) -> [&mut [f32]; 6] {
        [
            &mut self.w,
            &mut self.q,
            &mut self.soma.weight,
            &mut self.soma.bias,
            &mut self.axon.weight,
            &mut self.axon.bias,
        ]
    }

    /// The shapes of the tensors in the authors' layout: gray `w` is `(M, window, window)`,
    /// colour `w` is `(C, 1, 1, M, window, window)`.
    pub fn shapes(config: &Config) -> [Vec<usize>; 6] {
        let (m, k) = (config.dendrites, config.window);
        let synapses = if config.channels == 1 {
            vec![m, k, k]
        } else {
            vec![config.channels, 1, 1, m, k, k]
        };
        [
            synapses.clone(),
            synapses,
            vec![config.hidden, config.features()],
            vec![config.hidden],
            vec![config.classes, config.hidden],
            vec![config.classes],
        ]
    }

    /// Whether every value is finite.
    pub fn is_finite(&self) -> bool {
        self.tensors()
            .iter()
            .all(|t| t.iter().all(|v| v.is_finite()))
    }
}

/// Everything the forward pass computes for one batch.
pub struct Forward {
    /// Membrane output `(B, features)`.
    pub membrane: Vec<f32>,
    /// Winning window of every membrane value.
    pub winners: Vec<u32>,
    /// Soma output `(B, hidden)`.
    pub soma: Vec<f32>,
    /// Axon output `(B, classes)`.
    pub logits: Vec<f32>,
}

/// Loss, accuracy and gradients of one training batch.
pub struct Step<P = Params> {
    pub loss: f32,
    /// Right predictions: images (multi-class) or label decisions (multi-label).
    pub correct: usize,
    pub grads: P,
}

/// An MDPN classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Mdpn {
    pub config: Config,
    pub params: Params,
    /// The 8-bit kernel's tables, kept while the configuration and parameters are unchanged.
    tables: TableCache,
}

impl Mdpn {
    /// A freshly initialised model: synapse weights and thresholds from N(0, 1), linear layers
    /// as PyTorch initialises them. The same seed gives the same model.
    ///
    /// ```
    /// use mdpn::{Config, Mdpn};
    ///
    /// // 8 dendrites of 5×5 synapses over 28×28 gray images, 16 soma units, 10 classes.
    /// let config = Config { dendrites: 8, hidden: 16, ..Config::default() };
    /// let model = Mdpn::new(config.clone(), 7)?;
    /// assert_eq!(model.params.w.len(), 8 * 5 * 5);
    /// assert_eq!(model.params.soma.inputs, 6 * 6 * 8); // 24×24 windows, pooled 4×4
    /// assert_eq!(model, Mdpn::new(config.clone(), 7)?);
    /// assert_ne!(model, Mdpn::new(config, 8)?);
    /// // Settings that cannot make a model are refused.
    /// assert!(Mdpn::new(Config { window: 40, ..Config::default() }, 0).is_err());
    /// # Ok::<(), mdpn::Error>(())
    /// ```
    pub fn new(config: Config, seed: u64) -> Result<Mdpn> {
        Mdpn::with_init(config, seed, SynapseInit::default())
    }

    /// [`Mdpn::new`] with the synapses drawn as `init` says; the linear layers as PyTorch draws
    /// them.
    pub fn with_init(config: Config, seed: u64, init: SynapseInit) -> Result<Mdpn> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = config.channels * config.dendrites * config.synapses();
        let mut normal = |n: usize, mean: f32, std: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let v: f32 = StandardNormal.sample(&mut rng);
                    v * std + mean
                })
                .collect()
        };
        let SynapseInit::Normal {
            w_std,
            q_mean,
            q_std,
        } = init;
        let w = normal(n, 0.0, w_std);
        let q = normal(n, q_mean, q_std);
        let soma = Linear::init(config.features(), config.hidden, &mut rng);
        let axon = Linear::init(config.hidden, config.classes, &mut rng);
        Ok(Mdpn {
            config,
            params: Params { w, q, soma, axon },
            tables: TableCache::default(),
        })
    }

    /// A model from existing parameters, checked against the configuration.
    pub fn from_params(config: Config, params: Params) -> Result<Mdpn> {
        config.validate()?;
        let expected = Params::zeros(&config);
        for ((name, have), want) in TENSOR_NAMES
            .iter()
            .zip(params.tensors())
            .zip(expected.tensors())
        {
            if have.len() != want.len() {
                return Err(Error::Shape(format!(
                    "{name} has {} values, the configuration needs {}",
                    have.len(),
                    want.len()
                )));
            }
        }
        Ok(Mdpn {
            config,
            params,
            tables: TableCache::default(),
        })
    }

    /// Tables for the 8-bit kernel at the current parameters, to pass to [`Mdpn::forward`] for
    /// many batches. They borrow the model, so they cannot outlive a change of its parameters:
    /// ask again after each update. The model keeps them while its configuration and
    /// parameters are unchanged, so that asking again is cheap (a comparison of the synapses'
    /// parameters), and single images ([`Mdpn::probabilities`]) do not pay for tabulating.
    ///
    /// ```
    /// use mdpn::{Config, Images, KernelChoice, Mdpn};
    ///
    /// let mut model = Mdpn::new(Config::default(), 0)?;
    /// let images = vec![0u8; 2 * 28 * 28];
    /// let tables = model.tables();
    /// let before = model.forward(Images::U8(&images), KernelChoice::Fast, Some(&tables))?;
    /// drop(tables);
    /// model.params.axon.bias[0] += 1.0;
    /// let after = model.forward(Images::U8(&images), KernelChoice::Fast, Some(&model.tables()))?;
    /// assert!((after.logits[0] - before.logits[0] - 1.0).abs() < 1e-5);
    /// # Ok::<(), mdpn::Error>(())
    /// ```
    ///
    /// Changing the parameters while their tables live does not compile:
    ///
    /// ```compile_fail,E0502
    /// use mdpn::{Config, Images, KernelChoice, Mdpn};
    ///
    /// let mut model = Mdpn::new(Config::default(), 0)?;
    /// let tables = model.tables();
    /// model.params.w[0] += 1.0;
    /// model.forward(Images::U8(&[0; 784]), KernelChoice::Fast, Some(&tables))?;
    /// # Ok::<(), mdpn::Error>(())
    /// ```
    pub fn tables(&self) -> Tables<'_> {
        self.tables
            .tables(&self.config, &self.params.w, &self.params.q)
    }

    /// Forward pass of a batch through all five layers. `tables` must be this model's
    /// ([`Mdpn::tables`]); another model's are refused with [`Error::ForeignTables`].
    pub fn forward(
        &self,
        images: Images,
        choice: KernelChoice,
        tables: Option<&Tables>,
    ) -> Result<Forward> {
        let batch = self.config.batch_len(images)?;
        let synapses = (&self.params.w[..], &self.params.q[..]);
        let (membrane, winners) =
            kernels::forward(&self.config, synapses, images, batch, choice, tables)?;
        let soma = soma::forward(&self.params.soma, &membrane);
        let logits = axon::forward(&self.params.axon, &soma);
        Ok(Forward {
            membrane,
            winners,
            soma,
            logits,
        })
    }

    /// Logits `(B, classes)` of a batch; for many batches build the tables once with
    /// [`Mdpn::tables`] and call [`Mdpn::forward`].
    pub fn logits(&self, images: Images, choice: KernelChoice) -> Result<Vec<f32>> {
        let tables = matches!(images, Images::U8(_)).then(|| self.tables());
        Ok(self.forward(images, choice, tables.as_ref())?.logits)
    }

    /// Class probabilities `(B, classes)` of a batch: softmax, or one sigmoid per label for a
    /// multi-label model.
    ///
    /// ```
    /// use mdpn::{Config, Images, KernelChoice, Mdpn};
    ///
    /// let model = Mdpn::new(Config { dendrites: 4, hidden: 8, ..Config::default() }, 0)?;
    /// // Two 28×28 images, one after the other: raw 8-bit pixels, normalised by the model.
    /// let images: Vec<u8> = (0..2 * 28 * 28).map(|i| (i % 251) as u8).collect();
    /// let p = model.probabilities(Images::U8(&images), KernelChoice::Fast)?;
    /// assert_eq!(p.len(), 2 * 10);
    /// for row in p.chunks(10) {
    ///     assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    /// }
    /// // The reference kernel agrees with the 8-bit table kernel.
    /// let plain = model.probabilities(Images::U8(&images), KernelChoice::Plain)?;
    /// assert!(p.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-5));
    /// // A batch that is not a whole number of images is an error, not a panic.
    /// assert!(model.probabilities(Images::U8(&images[1..]), KernelChoice::Fast).is_err());
    /// # Ok::<(), mdpn::Error>(())
    /// ```
    pub fn probabilities(&self, images: Images, choice: KernelChoice) -> Result<Vec<f32>> {
        let mut p = self.logits(images, choice)?;
        axon::activate(&self.config, &mut p);
        Ok(p)
    }

    /// Mean loss of a batch against `labels` (cross-entropy; binary cross-entropy over bit-mask
    /// labels for a multi-label model), and its gradient with respect to every parameter.
    pub fn gradients(&self, images: Images, labels: &[u32], choice: KernelChoice) -> Result<Step> {
        self.smoothed_gradients(images, labels, choice, 0.0)
    }

    /// [`Mdpn::gradients`] with label smoothing ε ([`loss::cross_entropy`]).
    pub fn smoothed_gradients(
        &self,
        images: Images,
        labels: &[u32],
        choice: KernelChoice,
        smoothing: f32,
    ) -> Result<Step> {
        let cfg = &self.config;
        let batch = self.config.batch_len(images)?;
        if labels.len() != batch {
            return Err(Error::Shape(format!(
                "{batch} images but {} labels",
                labels.len()
            )));
        }
        let in_range = |l: u32| match cfg.task {
            Task::MultiClass => (l as usize) < cfg.classes,
            Task::MultiLabel => cfg.classes >= 32 || l >> cfg.classes == 0,
        };
        if let Some(&bad) = labels.iter().find(|&&l| !in_range(l)) {
            return Err(Error::Shape(format!(
                "label {bad} is out of range for {} classes",
                cfg.classes
            )));
        }
        let tables = matches!(images, Images::U8(_)).then(|| self.tables());
        let fwd = self.forward(images, choice, tables.as_ref())?;
        let (loss, dlogits, correct) = match cfg.task {
            Task::MultiClass => loss::cross_entropy(&fwd.logits, labels, cfg.classes, smoothing),
            Task::MultiLabel => loss::sigmoid_bce(&fwd.logits, labels, cfg.classes, smoothing),
        };

        let mut grads = Params::zeros(cfg);
        let dsoma = axon::backward(&self.params.axon, &fwd.soma, &dlogits, &mut grads.axon);
        let dmembrane = soma::backward(
            &self.params.soma,
            &fwd.membrane,
            &fwd.soma,
            dsoma,
            &mut grads.soma,
        );
        kernels::backward(
            cfg,
            (&self.params.w, &self.params.q),
            images,
            choice,
            tables.as_ref(),
            &fwd.winners,
            &dmembrane,
            (&mut grads.w, &mut grads.q),
        );
        Ok(Step {
            loss,
            correct,
            grads,
        })
    }

    /// The gradient of each image's score for `classes[i]` (its logit, before the softmax) with
    /// respect to its normalised input values `(B, C, H, W)`: which pixels raise or lower that
    /// class, the saliency map. Computed with the plain kernel, whatever the input type.
    pub fn input_gradient(&self, images: Images, classes: &[usize]) -> Result<Vec<f32>> {
        let batch = self.config.batch_len(images)?;
        let cfg = &self.config;
        if classes.len() != batch || classes.iter().any(|&c| c >= cfg.classes) {
            return Err(Error::Shape(format!(
                "{batch} images need {batch} classes below {}, got {classes:?}",
                cfg.classes
            )));
        }
        let x: Vec<f32> = match images {
            Images::U8(x) => x.iter().map(|&v| cfg.normalise(v)).collect(),
            Images::F32(x) => x.to_vec(),
        };
        let fwd = self.forward(Images::F32(&x), KernelChoice::Plain, None)?;
        let mut dlogits = vec![0.0; batch * cfg.classes];
        for (row, &c) in dlogits.chunks_exact_mut(cfg.classes).zip(classes) {
            row[c] = 1.0;
        }
        let mut unused = Params::zeros(cfg);
        let dsoma = axon::backward(&self.params.axon, &fwd.soma, &dlogits, &mut unused.axon);
        let dmembrane = soma::backward(
            &self.params.soma,
            &fwd.membrane,
            &fwd.soma,
            dsoma,
            &mut unused.soma,
        );
        let kernel = Plain {
            config: cfg,
            w: &self.params.w,
            q: &self.params.q,
            images: &x,
        };
        Ok(kernel.input_gradient(&fwd.winners, &dmembrane))
    }
}
