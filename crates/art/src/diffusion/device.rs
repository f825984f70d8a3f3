//! Where a diffusion run computes: the CPU, or an NVIDIA GPU through CUDA in builds with
//! the `cuda` cargo feature (`scripts/setup-cuda.sh --build`).
//!
//! The user picks a [`ComputeDevice`] (`cpu`, `cuda`, `cuda:1`); the recipe records only its
//! [`DeviceClass`], since any card of a class computes the same kernels, while a CPU and a
//! GPU do not (see [`DeviceClass`] and the README's "Bit-identical" section). Running a
//! recipe on another class is refused ([`DiffusionError::DeviceClassMismatch`]) rather than
//! giving a near miss that `regenerate --check` would then report as a changed image.
//!
//! [`available_devices`] lists what this build can run on, with free memory, for the app's
//! and the CLI's device pickers.

use std::fmt;
use std::str::FromStr;

use chrysalis_core::recipe::{Backend, DeviceClass};
use serde::Serialize;

use super::error::DiffusionError;

/// A device to run on, as people name it: `cpu`, `cuda` (the first GPU) or `cuda:N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ComputeDevice {
    #[default]
    Cpu,
    /// The CUDA device with this ordinal.
    Cuda(usize),
}

impl ComputeDevice {
    /// The class a recipe made here records.
    pub fn class(self) -> DeviceClass {
        match self {
            Self::Cpu => DeviceClass::Cpu,
            Self::Cuda(_) => DeviceClass::Cuda,
        }
    }

    /// The device a recipe of `class` runs on when the user names none: the CPU, or the
    /// first GPU.
    pub fn default_for(class: DeviceClass) -> Self {
        match class {
            DeviceClass::Cpu => Self::Cpu,
            DeviceClass::Cuda => Self::Cuda(0),
        }
    }

    /// The candle device. A CUDA device in a build without the `cuda` feature, or on a
    /// machine without that GPU, is an error saying which.
    pub(crate) fn candle(self) -> Result<candle_core::Device, DiffusionError> {
        match self {
            Self::Cpu => Ok(candle_core::Device::Cpu),
            Self::Cuda(_) if !cuda_compiled() => Err(DiffusionError::NoCudaInBuild),
            Self::Cuda(ordinal) => candle_core::Device::new_cuda(ordinal)
                .map_err(|e| DiffusionError::DeviceUnavailable { device: self.to_string(), detail: e.to_string() }),
        }
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for ComputeDevice {
    type Err = DiffusionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let bad = || DiffusionError::UnknownDevice { name: s.to_string() };
        match t.as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            _ => {
                let n = t.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse().map(Self::Cuda).map_err(|_| bad())
            }
        }
    }
}

/// Whether this build was compiled with CUDA support (the `cuda` cargo feature).
pub fn cuda_compiled() -> bool {
    cfg!(feature = "cuda")
}

/// One device this build can run on, as a device picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// What `--device` takes and [`ComputeDevice::from_str`] parses: `cpu`, `cuda:0`, ...
    pub id: String,
    /// `CPU (16 threads)`, `CUDA:0 NVIDIA H100 80GB HBM3`.
    pub label: String,
    /// Memory free now for a run (system memory for the CPU, VRAM for a GPU), when known.
    pub free_bytes: Option<u64>,
    /// The device's whole memory, when known.
    pub total_bytes: Option<u64>,
}

/// What a device picker shows: where this build can run, and why there are no GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevicesReport {
    /// The CPU first, then every CUDA device the driver reports.
    pub devices: Vec<DeviceInfo>,
    /// Whether this build has CUDA at all ([`cuda_compiled`]).
    pub cuda_in_build: bool,
    /// Why no GPU is listed although the build has CUDA (no driver, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuda_problem: Option<String>,
    /// Every tensor library Chrysalis knows, candle first, and whether this build has it.
    pub backends: Vec<BackendInfo>,
}

/// One tensor library the diffusion engine can compute with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendInfo {
    /// What `generate --backend` and recipes call it: `candle`, `torch`.
    pub id: Backend,
    /// How people say it: `candle`, `libtorch`.
    pub label: &'static str,
    pub in_build: bool,
}

/// The devices this build can run on: the CPU first, then every CUDA device the driver
/// reports (none in a build without the `cuda` feature).
pub fn available_devices() -> DevicesReport {
    let threads = candle_core::utils::get_num_threads();
    let mut devices = vec![DeviceInfo {
        id: ComputeDevice::Cpu.to_string(),
        label: format!("CPU ({threads} threads)"),
        free_bytes: super::memory::available(),
        total_bytes: super::memory::total(),
    }];
    let cuda_problem = cuda::list(&mut devices).err();
    let backends = [(Backend::Candle, true), (Backend::Torch, super::torch_compiled())]
        .into_iter()
        .map(|(id, in_build)| BackendInfo { id, label: id.label(), in_build })
        .collect();
    DevicesReport { devices, cuda_in_build: cuda_compiled(), cuda_problem, backends }
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{ComputeDevice, DeviceInfo};

    /// Appends every CUDA device with its name and free/total memory.
    pub(super) fn list(out: &mut Vec<DeviceInfo>) -> Result<(), String> {
        use candle_core::cuda_backend::cudarc::driver::CudaContext;
        let count =
            CudaContext::device_count().map_err(|e| format!("the CUDA driver cannot be asked for devices: {e}"))?;
        for ordinal in 0..count.max(0) as usize {
            let ctx = CudaContext::new(ordinal).map_err(|e| format!("cuda:{ordinal}: {e}"))?;
            let name = ctx.name().unwrap_or_else(|_| "NVIDIA GPU".into());
            let (free, total) =
                ctx.mem_get_info().map(|(f, t)| (Some(f as u64), Some(t as u64))).unwrap_or((None, None));
            out.push(DeviceInfo {
                id: ComputeDevice::Cuda(ordinal).to_string(),
                label: format!("CUDA:{ordinal} {name}"),
                free_bytes: free,
                total_bytes: total,
            });
        }
        Ok(())
    }

    /// Free memory on the GPU `ordinal` now.
    pub(crate) fn free_memory(ordinal: usize) -> Option<u64> {
        let ctx = candle_core::cuda_backend::cudarc::driver::CudaContext::new(ordinal).ok()?;
        ctx.mem_get_info().ok().map(|(free, _)| free as u64)
    }
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::DeviceInfo;

    pub(super) fn list(_: &mut Vec<DeviceInfo>) -> Result<(), String> {
        Ok(())
    }

    pub(crate) fn free_memory(_: usize) -> Option<u64> {
        None
    }
}

/// Memory the run can use on `device` now: available system memory for the CPU, free VRAM
/// for a GPU; `None` when the platform does not say.
pub(crate) fn free_memory(device: ComputeDevice) -> Option<u64> {
    match device {
        ComputeDevice::Cpu => super::memory::available(),
        ComputeDevice::Cuda(ordinal) => cuda::free_memory(ordinal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_as_people_write_them_and_print_back() {
        for (text, want) in [
            ("cpu", ComputeDevice::Cpu),
            (" CPU ", ComputeDevice::Cpu),
            ("cuda", ComputeDevice::Cuda(0)),
            ("gpu", ComputeDevice::Cuda(0)),
            ("cuda:0", ComputeDevice::Cuda(0)),
            ("CUDA:3", ComputeDevice::Cuda(3)),
        ] {
            assert_eq!(text.parse::<ComputeDevice>().unwrap(), want, "{text}");
            assert_eq!(want.to_string().parse::<ComputeDevice>().unwrap(), want);
        }
        for bad in ["", "metal", "cuda:", "cuda:x", "cuda:-1", "cpu:0"] {
            let e = bad.parse::<ComputeDevice>().unwrap_err().to_string();
            assert!(e.contains(&format!("'{bad}'")) && e.contains("cuda:N"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_recipe_records_the_class_and_a_class_runs_on_its_first_device() {
        assert_eq!(ComputeDevice::Cuda(2).class(), DeviceClass::Cuda);
        assert_eq!(ComputeDevice::Cpu.class(), DeviceClass::Cpu);
        assert_eq!(ComputeDevice::default_for(DeviceClass::Cuda), ComputeDevice::Cuda(0));
        assert_eq!(ComputeDevice::default_for(DeviceClass::Cpu), ComputeDevice::Cpu);
    }

    #[test]
    fn the_cpu_is_always_listed_first_with_its_memory() {
        let devices = available_devices().devices;
        assert_eq!(devices[0].id, "cpu");
        assert!(devices[0].label.starts_with("CPU ("), "{}", devices[0].label);
        if cfg!(target_os = "linux") {
            let (free, total) = (devices[0].free_bytes.unwrap(), devices[0].total_bytes.unwrap());
            assert!(free > 0 && free <= total, "{free} / {total}");
        }
        if !cuda_compiled() {
            assert_eq!(devices.len(), 1, "a build without CUDA lists only the CPU: {devices:?}");
        }
    }

    #[test]
    fn a_gpu_in_a_build_without_cuda_is_refused_by_name() {
        if cuda_compiled() {
            return;
        }
        let e = ComputeDevice::Cuda(0).candle().unwrap_err().to_string();
        assert!(e.contains("without CUDA") && e.contains("setup-cuda.sh"), "{e}");
    }
}
