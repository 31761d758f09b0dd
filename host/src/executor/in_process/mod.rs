//! The in-process executor: plugins run in this process under wasmtime.
//!
//! One shared [`Engine`] with the pooling allocator; each module is compiled
//! once (and cached on disk), pre-linked into an [`InstancePre`], and every
//! call gets a fresh [`Store`] and instance, so nothing survives between calls.
//! Time is bounded by epoch interruption, memory by a resource limiter.
//!
//! The engine, its pool and the epoch ticker start with the first plugin call
//! (or `prepare`), not with the executor: a run that calls no plugin pays none
//! of their set-up.

mod cache;
mod compiler;
mod file_index;
mod files;
mod host_fns;
mod preinit;
mod sandbox;
mod sleep;
mod slots;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use wasmtime::{
    Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store, Trap,
    WasmBacktrace,
};

pub use cache::default_cache_dir;
use cache::{ModuleCache, sha256_hex};
use compiler::WASM_STACK;
use file_index::{FileIndex, FileVersion};
use sandbox::{Sandbox, ServiceContext, Setup, add_to_linker};
use slots::{PER_CALL, Slots};

use super::{Call, Executor, Reply};
use crate::call::{FailureKind, ScriptError};
use crate::call::{Limits, Plugin, PluginSource};
use crate::capability::Grants;

/// Memory kept resident per pool slot between calls (see `pagemap_scan` below).
const KEEP_RESIDENT: usize = 8 << 20;

/// The kind of artifact the cache keeps: a compiled (and pre-initialized) module.
const ARTIFACT: &str = "v1";

/// How often the epoch advances: the resolution of call deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Native stack a call needs free before it enters wasm: its wasm stack plus
/// the host's own frames (WASI, host functions, serde) around it. A nested
/// `call_service` enters wasm again, deeper on the same thread; each entry
/// makes sure this much is free and otherwise continues on a fresh stack
/// segment (`stacker`), so no nesting depth and no thread's stack size can
/// overflow the host's stack.
const HOST_STACK: usize = WASM_STACK + (512 << 10);

/// The size of a fresh stack segment when one is needed.
const STACK_SEGMENT: usize = 2 * HOST_STACK;

/// How long compiling one module may take, unless configured otherwise.
/// Generous: a large interpreter takes seconds in a release build and tens of
/// seconds in a debug build on a busy machine; the limit is there to end the
/// modules crafted to compile for minutes.
pub const DEFAULT_COMPILE_TIMEOUT: Duration = Duration::from_secs(120);

/// Settings of an [`InProcess`] executor.
#[derive(Debug, Clone)]
pub struct InProcessConfig {
    /// Where compiled modules are cached; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// The largest memory any call may be given (sizes the allocator's slots).
    pub max_memory: usize,
    /// How many outermost calls may run at once; more wait for one to end.
    /// Each reserves instance slots for every nesting level below it, so the
    /// allocator's pool holds `max_concurrent_calls × (MAX_DEPTH + 2)` instances.
    pub max_concurrent_calls: u32,
    /// How long compiling one module may take. Cranelift cannot be stopped, so
    /// a compile past it is abandoned (it finishes on its own thread, unused)
    /// and the plugin fails to load with an error naming this limit.
    pub compile_timeout: Duration,
}

impl Default for InProcessConfig {
    fn default() -> Self {
        InProcessConfig {
            cache_dir: default_cache_dir(),
            max_memory: Limits::default().memory,
            max_concurrent_calls: 64,
            compile_timeout: DEFAULT_COMPILE_TIMEOUT,
        }
    }
}

/// Runs plugins in this process. Cheap to share: wrap it in an `Arc`.
pub struct InProcess {
    config: InProcessConfig,
    /// The engine and everything around it, started by the first call (see
    /// [`InProcess::started`]); a failure to start is kept and reported by
    /// every call.
    started: OnceLock<Result<Inner, String>>,
}

/// The started executor: the engine, its pool and everything that uses them.
struct Inner {
    engine: Engine,
    /// The empty directory behind every sandbox's `/` (see `files`), created
    /// by the first call of a module that can open files.
    root: OnceLock<Result<tempfile::TempDir, String>>,
    linker: Linker<Sandbox>,
    cache: ModuleCache,
    /// The digests of plugin files by version, next to the cache.
    index: FileIndex,
    max_memory: usize,
    compile_timeout: Duration,
    /// Admission of outermost calls (see [`slots`]).
    slots: Slots,
    /// Every granted directory, opened once (see [`files`]).
    grant_handles: files::GrantHandles,
    /// Modules by version, each loaded once: concurrent first calls wait for
    /// the load in flight instead of compiling the same module again.
    loaded: Mutex<HashMap<ModuleId, Arc<OnceLock<Loading>>>>,
    _ticker: mpsc::Sender<()>,
}

/// Identifies a module in memory: built-ins by name, files by path and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ModuleId {
    Builtin(&'static str),
    File {
        path: PathBuf,
        version: FileVersion,
        sha256: Option<String>,
    },
}

/// How loading a module version went. A failure that calling again cannot
/// mend (the compile limit, which the process cannot raise) is kept, so later
/// calls fail at once instead of each starting another abandoned compile;
/// other failures (a pre-initialization past the caller's time limit) are
/// forgotten, so the next call tries again.
#[derive(Clone)]
struct Loading {
    result: Result<Arc<Loaded>, ScriptError>,
    keep: bool,
}

/// A module ready to instantiate.
struct Loaded {
    pre: InstancePre<Sandbox>,
    carrier: Carrier,
    /// Whether it imports WASI `path_open`: only then can it open files, and
    /// only then does its sandbox need the host-owned `/` (see `files`), whose
    /// setup costs every call a few microseconds.
    opens_files: bool,
    /// Whether it is a WASI reactor with a start-up export to call first
    /// (a pre-initialized module has run it into its snapshot).
    reactor: bool,
}

/// The two ways a request and response can travel (see the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    /// `wasmflow_alloc` + `wasmflow_run` exports over linear memory.
    Exports,
    /// A WASI command reading stdin and writing stdout.
    Stdio,
}

impl InProcess {
    /// An executor with these settings. The engine, its pool and the epoch
    /// ticker start with the first call, so this cannot fail today; an engine
    /// that cannot start fails that call and every later one.
    pub fn new(config: InProcessConfig) -> anyhow::Result<InProcess> {
        Ok(InProcess {
            config,
            started: OnceLock::new(),
        })
    }

    /// The started executor, starting it on first use.
    fn started(&self, plugin: &str) -> Result<&Inner, ScriptError> {
        self.started
            .get_or_init(|| Inner::start(&self.config).map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| {
                ScriptError::new(
                    plugin,
                    FailureKind::Load,
                    format!(
                        "cannot start the WebAssembly engine: {e} (its instance pool reserves address space for \
                         every call that may run at once: check `ulimit -v`, or lower the memory limit)"
                    ),
                )
            })
    }
}

impl Inner {
    /// Creates the engine with its pool, the linker and the epoch ticker.
    fn start(config: &InProcessConfig) -> anyhow::Result<Inner> {
        let mut wasm_config = compiler::config();
        let mut pool = PoolingAllocationConfig::new();
        let calls = config.max_concurrent_calls.max(1);
        let instances = calls.saturating_mul(PER_CALL);
        pool.total_core_instances(instances)
            .total_memories(instances)
            .total_tables(instances)
            // No async calls run here, so no fiber stacks: the default pool of
            // 1,000 cost one `mprotect` per stack (a guard page) at start-up.
            .total_stacks(0)
            .max_memory_size(config.max_memory)
            // Interpreters have large function tables.
            .table_elements(100_000)
            // Between calls, reset only the pages a call dirtied (PAGEMAP_SCAN,
            // Linux 6.7+, detected at run time) and keep them resident, so the
            // next instance of the same module takes no page faults on them.
            .pagemap_scan(wasmtime::Enabled::Auto)
            // Reuse the slot a module last ran in before any other: the pool is
            // sized for the worst case of nesting, and cycling through hundreds
            // of cold slots would cost page faults and cache misses on every call
            // (and RSS for every slot kept warm).
            .max_unused_warm_slots(0)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
        wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm_config).map_err(anyhow::Error::from)?;
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        let cache = ModuleCache::new(&engine, config.cache_dir.clone());
        let index = FileIndex::new(config.cache_dir.as_ref().map(|dir| dir.join("files")));
        Ok(Inner {
            _ticker: start_ticker(engine.clone()),
            engine,
            root: OnceLock::new(),
            linker,
            cache,
            index,
            max_memory: config.max_memory,
            compile_timeout: config.compile_timeout,
            slots: Slots::new(calls),
            grant_handles: files::GrantHandles::default(),
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// The sandboxes' empty root directory, created on first use.
    fn root(&self) -> Result<&Path, String> {
        self.root
            .get_or_init(|| {
                tempfile::Builder::new()
                    .prefix("wasmflow-root-")
                    .tempdir()
                    .map_err(|e| {
                        format!(
                            "cannot create the sandboxes' empty root directory in {}: {e} \
                         (set TMPDIR to a writable directory)",
                            std::env::temp_dir().display()
                        )
                    })
            })
            .as_ref()
            .map(|dir| dir.path())
            .map_err(Clone::clone)
    }

    /// Compiles (or loads from cache) and links a plugin, once per version of its file.
    fn load(&self, plugin: &Plugin, limits: Limits) -> Result<Arc<Loaded>, ScriptError> {
        let fail = |kind, message: String| ScriptError::new(&plugin.name, kind, message);
        let (id, version) = match &plugin.source {
            PluginSource::Builtin { name, .. } => (ModuleId::Builtin(name), None),
            PluginSource::File(path) => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| fail(FailureKind::NotFound, format!("cannot read {}: {e}", path.display())))?;
                let version = FileVersion::of(&meta);
                let id = ModuleId::File {
                    path: path.clone(),
                    version: version.clone(),
                    sha256: plugin.sha256.clone(),
                };
                (id, Some(version))
            }
        };
        // A file version written just now may be rewritten within the same
        // timestamp tick, unseen by its metadata: do not keep a module loaded
        // from it for later calls (see `file_index`). A kept failure stays
        // kept: at worst it is stale, and forgetting it would start another
        // abandoned compile on every call.
        let settled = version.as_ref().is_none_or(|v| v.settled(SystemTime::now()));
        // Load outside the map's lock: other plugins should not wait for this one.
        let slot = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.clone())
            .or_default()
            .clone();
        let loading = slot
            .get_or_init(|| match self.load_module(plugin, version.as_ref(), limits) {
                Ok(loaded) => Loading {
                    result: Ok(loaded),
                    keep: true,
                },
                Err((error, keep)) => Loading {
                    result: Err(error),
                    keep,
                },
            })
            .clone();
        if !loading.keep || (!settled && loading.result.is_ok()) {
            let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            if loaded.get(&id).is_some_and(|current| Arc::ptr_eq(current, &slot)) {
                loaded.remove(&id);
            }
        }
        loading.result
    }

    /// Finds (in the cache) or reads, checks and compiles a module, and links
    /// it; a failure says whether to keep it. `version` is a file's, as the
    /// caller found it.
    fn load_module(
        &self,
        plugin: &Plugin,
        version: Option<&FileVersion>,
        limits: Limits,
    ) -> Result<Arc<Loaded>, (ScriptError, bool)> {
        let fail = |kind, message: String| (ScriptError::new(&plugin.name, kind, message), false);
        let module = match &plugin.source {
            PluginSource::Builtin {
                wasm,
                sha256,
                precompiled,
                ..
            } => self.compile(plugin, sha256, wasm, precompiled, limits)?,
            PluginSource::File(path) => {
                // An unpinned file at a version the index knows is not read at
                // all when its compiled module is cached. A pinned one is
                // always hashed: the pin checks the bytes (see `file_index`).
                let indexed = match (version, &plugin.sha256) {
                    (Some(version), None) => self.index.lookup(path, version),
                    _ => None,
                };
                let cached =
                    indexed.and_then(|digest| self.cache.load(&self.engine, &self.cache.key(&digest, ARTIFACT)));
                match cached {
                    Some(module) => module,
                    None => {
                        let (wasm, digest) = self.read_file(plugin, path, version).map_err(|e| (e, false))?;
                        self.compile(plugin, &digest, &wasm, &[], limits)?
                    }
                }
            }
        };
        let carrier = carrier_of(&module).map_err(|message| fail(FailureKind::NoAbi, message))?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| fail(FailureKind::Load, format!("cannot link the module: {}", flatten(&e))))?;
        let opens_files = module
            .imports()
            .any(|import| import.module() == "wasi_snapshot_preview1" && import.name() == "path_open");
        let reactor = matches!(module.get_export(preinit::REACTOR_START), Some(ExternType::Func(_)));
        Ok(Arc::new(Loaded {
            pre,
            carrier,
            opens_files,
            reactor,
        }))
    }

    /// A plugin file's bytes and their SHA-256, checked against the manifest's
    /// pin if there is one, and recorded in the index if the file is still at
    /// `version` after reading.
    fn read_file(
        &self,
        plugin: &Plugin,
        path: &Path,
        version: Option<&FileVersion>,
    ) -> Result<(Vec<u8>, String), ScriptError> {
        let fail = |kind, message: String| ScriptError::new(&plugin.name, kind, message);
        let cannot_read =
            |e: std::io::Error| fail(FailureKind::NotFound, format!("cannot read {}: {e}", path.display()));
        let mut file = std::fs::File::open(path).map_err(cannot_read)?;
        let mut wasm = Vec::new();
        file.read_to_end(&mut wasm).map_err(cannot_read)?;
        let digest = sha256_hex(&wasm);
        match &plugin.sha256 {
            Some(expected) if !digest.eq_ignore_ascii_case(expected) => {
                return Err(fail(
                    FailureKind::Load,
                    format!(
                        "{} has sha256 {digest}, but the manifest pins {expected}: refusing to run it \
                         (rebuild the pinned module, or update `sha256` if this module is trusted)",
                        path.display()
                    ),
                ));
            }
            Some(_) => {}
            None => {
                // Unchanged while it was read: these bytes are that version's.
                let after = file.metadata().map(|meta| FileVersion::of(&meta)).ok();
                if let Some(version) = version.filter(|v| after.as_ref() == Some(*v)) {
                    self.index.record(path, version, &digest, SystemTime::now());
                }
            }
        }
        Ok((wasm, digest))
    }

    /// A built-in's module as the build compiled it, if this engine accepts
    /// it: it does not when the binary runs on a CPU with other features than
    /// the machine that built it, and then the module is compiled here.
    fn precompiled(&self, plugin: &Plugin, precompiled: &[u8]) -> Option<Module> {
        if precompiled.is_empty() {
            return None;
        }
        // SAFETY: the bytes are `Module::serialize` output that the build
        // script embedded in this binary, made by the same wasmtime; wasmtime
        // itself checks the configuration and CPU features they were made for.
        match unsafe { Module::deserialize(&self.engine, precompiled) } {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::debug!(plugin = %plugin.name, "compiling: the module compiled at build time does not fit this engine ({e:#})");
                None
            }
        }
    }

    /// The compiled module for some wasm bytes with the given SHA-256,
    /// pre-initialized if it asks to be: from the cache, else `precompiled`
    /// if the engine accepts it, else compiled now.
    fn compile(
        &self,
        plugin: &Plugin,
        sha256: &str,
        wasm: &[u8],
        precompiled: &[u8],
        limits: Limits,
    ) -> Result<Module, (ScriptError, bool)> {
        let error = |message: String| ScriptError::new(&plugin.name, FailureKind::Load, message);
        let fail = |message: String| (error(message), false);
        // Past the compile limit: kept, since calling again cannot mend it.
        let bounded = |e: Result<String, wasmtime::Error>, otherwise: &dyn Fn(&wasmtime::Error) -> String| match e {
            Ok(limit) => (error(limit), true),
            Err(e) => (error(otherwise(&e)), false),
        };
        let key = self.cache.key(sha256, ARTIFACT);
        if let Some(module) = self.cache.load(&self.engine, &key) {
            return Ok(module);
        }
        if let Some(module) = self.precompiled(plugin, precompiled) {
            return Ok(self.cache.store(&self.engine, &key, module));
        }
        let module = self
            .compile_bounded(wasm)
            .map_err(|e| bounded(e, &|e| self.invalid_module(e)))?;
        let module = match module.get_export(preinit::INIT_EXPORT) {
            Some(ExternType::Func(_)) => {
                let snapshot = stacker::maybe_grow(HOST_STACK, STACK_SEGMENT, || self.preinitialize(wasm, limits))
                    .map_err(|e| {
                        let why = match e.downcast_ref::<Trap>() {
                            Some(Trap::Interrupt) => format!(
                                "it ran longer than the plugin's time limit of {} and was stopped (raise it with --timeout)",
                                format_duration(limits.timeout)
                            ),
                            _ => cause_first(&e),
                        };
                        fail(format!("pre-initialization (`{}`) failed: {why}", preinit::INIT_EXPORT))
                    })?;
                self.compile_bounded(&snapshot).map_err(|e| {
                    bounded(e, &|e| {
                        format!("the pre-initialized module does not compile: {}", flatten(e))
                    })
                })?
            }
            _ => module,
        };
        Ok(self.cache.store(&self.engine, &key, module))
    }

    /// Compiles on a thread of its own, waiting at most the compile limit.
    /// `Err(Ok(message))` is the limit's error; `Err(Err(e))` the compiler's.
    fn compile_bounded(&self, wasm: &[u8]) -> Result<Module, Result<String, wasmtime::Error>> {
        let (done, result) = mpsc::channel();
        let engine = self.engine.clone();
        let wasm = wasm.to_vec();
        std::thread::Builder::new()
            .name("wasmflow-compile".into())
            .spawn(move || {
                let _ = done.send(Module::new(&engine, &wasm));
            })
            .map_err(|e| Ok(format!("cannot start a compiler thread: {e}")))?;
        match result.recv_timeout(self.compile_timeout) {
            Ok(compiled) => compiled.map_err(Err),
            Err(_) => Err(Ok(format!(
                "compiling the module took longer than the compile limit of {} and was abandoned \
                 (raise it with --compile-timeout)",
                format_duration(self.compile_timeout)
            ))),
        }
    }

    /// Why a module does not compile, in the user's terms where we know them.
    fn invalid_module(&self, error: &wasmtime::Error) -> String {
        let text = flatten(error);
        if text.contains("pooling allocator") {
            return format!(
                "the module declares more memory or table than a call may have: the memory limit is {} MiB \
                 (raise it with --memory, or `limits = {{ memory = \"...\" }}` in the manifest) ({text})",
                self.max_memory >> 20
            );
        }
        format!("not a valid WebAssembly module: {text}")
    }

    fn preinitialize(&self, wasm: &[u8], limits: Limits) -> wasmtime::Result<Vec<u8>> {
        let sandbox = Sandbox::new(Setup {
            plugin: "pre-initialization",
            grants: &Grants::none(),
            limits: Limits {
                memory: self.max_memory,
                ..limits
            },
            stdin: Vec::new(),
            stdout_capacity: sandbox::LOG_CAPACITY,
            root: None,
            handles: Vec::new(),
            services: None,
        })
        .map_err(wasmtime::Error::msg)?;
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        preinit::preinitialize(&mut store, wasm, |store, instrumented| {
            let module = self
                .compile_bounded(instrumented)
                .map_err(|e| e.map_or_else(|e| e, wasmtime::Error::msg))?;
            // Warm-up is the plugin's code like any call: bounded by its time
            // limit, counted from when it starts (compiling is bounded apart).
            store.set_epoch_deadline(ticks(limits.timeout));
            self.linker.instantiate(store, &module)
        })
    }

    /// Runs one call on a fresh instance.
    fn run(&self, call: Call<'_>, loaded: &Loaded) -> Result<Reply, ScriptError> {
        let limits = call.limits;
        let name = &call.plugin.name;
        if limits.memory > self.max_memory {
            return Err(ScriptError::new(
                name,
                FailureKind::Load,
                format!(
                    "memory limit {} MiB is above this executor's maximum of {} MiB",
                    limits.memory >> 20,
                    self.max_memory >> 20
                ),
            ));
        }
        let (stdin, stdout_capacity) = match loaded.carrier {
            Carrier::Stdio => (call.request.to_vec(), limits.response.saturating_add(1)),
            Carrier::Exports => (Vec::new(), sandbox::LOG_CAPACITY),
        };
        let services = call.services.map(|s| ServiceContext {
            runner: s.runner.clone(),
            task: s.task.clone(),
            depth: s.depth,
        });
        let handles = call
            .grants
            .dirs
            .iter()
            .map(|grant| self.grant_handles.open(grant))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| ScriptError::new(name, FailureKind::Load, message))?;
        let root = match loaded.opens_files {
            true => Some(
                self.root()
                    .map_err(|message| ScriptError::new(name, FailureKind::Load, message))?,
            ),
            false => None,
        };
        let sandbox = Sandbox::new(Setup {
            plugin: name,
            grants: call.grants,
            limits,
            stdin,
            stdout_capacity,
            root,
            handles,
            services,
        })
        .map_err(|message| ScriptError::new(name, FailureKind::Load, message))?;
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(ticks(limits.timeout));
        store.epoch_deadline_trap();

        let outcome = match loaded.carrier {
            Carrier::Exports => run_exports(&mut store, loaded, call.request, limits.response),
            Carrier::Stdio => run_stdio(&mut store, loaded),
        };
        let checks = store.data_mut().checks.finish();
        let sandbox = store.data();
        let stdout = if loaded.carrier == Carrier::Exports {
            sandbox.stdout.text()
        } else {
            String::new()
        };
        let mut log = sandbox.log.text();
        if !stdout.is_empty() {
            log.push_str("[stdout] ");
            log.push_str(&stdout);
        }
        match outcome {
            Ok(Some(response)) => Ok(Reply { response, log, checks }),
            Ok(None) => {
                // Stdio carrier: the response is what the command printed.
                if sandbox.stdout.dropped() > 0 {
                    let size = limits.response as u64 + sandbox.stdout.dropped() as u64;
                    return Err(too_large(name, size, limits.response).with_log(log).with_checks(checks));
                }
                Ok(Reply {
                    response: sandbox.stdout.take(),
                    log,
                    checks,
                })
            }
            Err(CallFailure::Wasm(error)) => Err(classify(name, &error, sandbox, limits)
                .with_log(log)
                .with_checks(checks)),
            Err(CallFailure::Abi(kind, message)) => {
                Err(ScriptError::new(name, kind, message).with_log(log).with_checks(checks))
            }
        }
    }
}

enum CallFailure {
    Wasm(wasmtime::Error),
    Abi(FailureKind, String),
}

impl From<wasmtime::Error> for CallFailure {
    fn from(error: wasmtime::Error) -> Self {
        CallFailure::Wasm(error)
    }
}

/// The exports carrier: write the request into guest memory, call `wasmflow_run`,
/// read the response back.
fn run_exports(
    store: &mut Store<Sandbox>,
    loaded: &Loaded,
    request: &[u8],
    max_response: usize,
) -> Result<Option<Vec<u8>>, CallFailure> {
    let instance = loaded.pre.instantiate(&mut *store)?;
    if loaded.reactor {
        instance
            .get_typed_func::<(), ()>(&mut *store, preinit::REACTOR_START)?
            .call(&mut *store, ())?;
    }
    let alloc = instance.get_typed_func::<i32, i32>(&mut *store, "wasmflow_alloc")?;
    let run = instance.get_typed_func::<(i32, i32), i64>(&mut *store, "wasmflow_run")?;
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| CallFailure::Abi(FailureKind::NoAbi, "the module exports no `memory`".into()))?;
    let len = i32::try_from(request.len()).map_err(|_| {
        CallFailure::Abi(
            FailureKind::Load,
            format!("request of {} bytes is too large for a 32-bit guest", request.len()),
        )
    })?;
    let ptr = alloc.call(&mut *store, len)?;
    memory.write(&mut *store, ptr as u32 as usize, request).map_err(|_| {
        CallFailure::Abi(
            FailureKind::InvalidResponse,
            format!(
                "`wasmflow_alloc({len})` returned {ptr}, which is not a buffer of that size in the plugin's memory"
            ),
        )
    })?;
    let packed = run.call(&mut *store, (ptr, len))?;
    let (out_ptr, out_len) = ((packed as u64 >> 32) as usize, (packed as u64 & 0xffff_ffff) as usize);
    if out_len > max_response {
        return Err(CallFailure::Abi(
            FailureKind::ResponseTooLarge,
            too_large_message(out_len as u64, max_response),
        ));
    }
    let data = memory.data(&*store);
    let bytes = data.get(out_ptr..out_ptr + out_len).ok_or_else(|| {
        CallFailure::Abi(
            FailureKind::InvalidResponse,
            format!(
                "`wasmflow_run` returned a response at {out_ptr}..{} outside the plugin's memory of {} bytes",
                out_ptr + out_len,
                data.len()
            ),
        )
    })?;
    Ok(Some(bytes.to_vec()))
}

/// The stdio carrier: run the command; the response is its stdout.
fn run_stdio(store: &mut Store<Sandbox>, loaded: &Loaded) -> Result<Option<Vec<u8>>, CallFailure> {
    let instance = loaded.pre.instantiate(&mut *store)?;
    let start = instance.get_typed_func::<(), ()>(&mut *store, "_start")?;
    match start.call(&mut *store, ()) {
        Ok(()) => Ok(None),
        Err(error) => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(wasmtime_wasi::I32Exit(0)) => Ok(None),
            Some(wasmtime_wasi::I32Exit(code)) => Err(CallFailure::Abi(
                FailureKind::PluginError,
                format!("the plugin exited with status {code}"),
            )),
            None => Err(CallFailure::Wasm(error)),
        },
    }
}

/// Which carrier a module speaks, or why it speaks none.
fn carrier_of(module: &Module) -> Result<Carrier, String> {
    let func = |name: &str| match module.get_export(name) {
        Some(ExternType::Func(ty)) => Some(ty),
        _ => None,
    };
    let has_memory = matches!(module.get_export("memory"), Some(ExternType::Memory(_)));
    match (func("wasmflow_alloc"), func("wasmflow_run")) {
        (Some(alloc), Some(run)) => {
            let shape = |ty: &wasmtime::FuncType| (ty.params().map(|t| t.to_string()).collect::<Vec<_>>(), ty.results().map(|t| t.to_string()).collect::<Vec<_>>());
            let i32_ = || "i32".to_string();
            let alloc_ok = shape(&alloc) == (vec![i32_()], vec![i32_()]);
            let run_ok = shape(&run) == (vec![i32_(), i32_()], vec!["i64".to_string()]);
            if !(alloc_ok && run_ok) {
                return Err(format!("`wasmflow_alloc` must be (i32) -> i32 and `wasmflow_run` (i32, i32) -> i64; this module has {:?} and {:?}", shape(&alloc), shape(&run)));
            }
            if !has_memory {
                return Err("the module exports `wasmflow_run` but no `memory`".into());
            }
            Ok(Carrier::Exports)
        }
        _ if func("_start").is_some() => Ok(Carrier::Stdio),
        _ => Err("the module exports neither `wasmflow_run` (with `wasmflow_alloc` and `memory`) nor `_start`: build it with the wasmflow-guest SDK's `export!` macro, or as a WASI command that reads the request on stdin and writes the response on stdout".into()),
    }
}

/// Turns a wasmtime failure into what the user needs to know.
fn classify(plugin: &str, error: &wasmtime::Error, sandbox: &Sandbox, limits: Limits) -> ScriptError {
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return ScriptError::new(
            plugin,
            FailureKind::Deadline,
            format!(
                "the call ran longer than its limit of {} and was stopped (raise it with --timeout)",
                format_duration(limits.timeout)
            ),
        );
    }
    if let Some(desired) = sandbox.limiter.denied {
        return ScriptError::new(
            plugin,
            FailureKind::MemoryLimit,
            format!(
                "the plugin tried to grow its memory to {} MiB; the limit is {} MiB (raise it with --memory)",
                desired.div_ceil(1 << 20),
                limits.memory >> 20
            ),
        );
    }
    let mut message = match trap {
        Some(Trap::StackOverflow) => "wasm stack overflow (unbounded recursion?)".to_string(),
        Some(trap) => trap.to_string(),
        None => cause_first(error),
    };
    if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
        let frames: Vec<String> = backtrace
            .frames()
            .iter()
            .take(12)
            .map(|frame| {
                frame
                    .func_name()
                    .map(String::from)
                    .unwrap_or_else(|| format!("<function {}>", frame.func_index()))
            })
            .collect();
        if !frames.is_empty() {
            message.push_str("\nwasm backtrace:\n  ");
            message.push_str(&frames.join("\n  "));
        }
    }
    ScriptError::new(plugin, FailureKind::Trap, message)
}

/// What went wrong, before where: the root cause, then any context that is
/// not the wasm backtrace (the caller prints that apart, after the cause).
fn cause_first(error: &wasmtime::Error) -> String {
    let root = error.root_cause().to_string();
    let context: Vec<String> = error
        .chain()
        .map(|cause| cause.to_string())
        .filter(|text| *text != root && !text.contains("wasm backtrace"))
        .collect();
    if context.is_empty() {
        root
    } else {
        format!("{root} ({})", context.join(": "))
    }
}

/// An error's message with its causes, on one line.
fn flatten(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn too_large(plugin: &str, size: u64, limit: usize) -> ScriptError {
    ScriptError::new(plugin, FailureKind::ResponseTooLarge, too_large_message(size, limit))
}

fn too_large_message(size: u64, limit: usize) -> String {
    format!("the response is {size} bytes or more; the limit is {limit} bytes (raise it with --max-response)")
}

fn format_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Epoch ticks in a duration, rounded up.
fn ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos())) as u64 + 1
}

/// Advances the engine's epoch every tick until the returned sender is dropped.
fn start_ticker(engine: Engine) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("wasmflow-epoch".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                engine.increment_epoch();
            }
        })
        .expect("cannot start the epoch thread");
    stop
}

impl Executor for InProcess {
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError> {
        // A nested call from this executor's own call runs on its outermost
        // call's reservation; one coming from another executor takes a free
        // reservation without waiting (see `slots`).
        let inner = self.started(&call.plugin.name)?;
        let _reservation = match (call.admitted, call.depth) {
            (true, _) => None,
            (false, 0) => Some(inner.slots.reserve()),
            (false, _) => inner.slots.try_reserve(),
        };
        stacker::maybe_grow(HOST_STACK, STACK_SEGMENT, || {
            let loaded = inner.load(call.plugin, call.limits)?;
            inner.run(call, &loaded)
        })
    }

    fn prepare(&self, plugin: &Plugin, limits: Limits) -> Result<(), ScriptError> {
        let inner = self.started(&plugin.name)?;
        let _reservation = inner.slots.reserve();
        inner.load(plugin, limits).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest module with an ABI: a WASI command whose `_start` does nothing.
    const COMMAND: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: [] -> []
        0x03, 0x02, 0x01, 0x00, // function 0 of type 0
        0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export "_start"
        0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // its body: nothing
    ];

    /// The same module with its export renamed: as long, but with no ABI.
    fn no_abi() -> Vec<u8> {
        let mut wasm = COMMAND.to_vec();
        let at = wasm.windows(6).position(|w| w == b"_start").unwrap();
        wasm[at..at + 6].copy_from_slice(b"_stant");
        wasm
    }

    fn executor(cache: Option<&Path>) -> InProcess {
        InProcess::new(InProcessConfig {
            cache_dir: cache.map(Path::to_path_buf),
            max_concurrent_calls: 1,
            ..InProcessConfig::default()
        })
        .unwrap()
    }

    fn builtin(wasm: &'static [u8], sha256: &str) -> Plugin {
        Plugin {
            name: "command".into(),
            source: PluginSource::Builtin {
                name: "command",
                wasm,
                sha256: Box::leak(sha256.to_string().into_boxed_str()),
                precompiled: &[],
            },
            sha256: None,
        }
    }

    #[test]
    fn the_engine_starts_with_the_first_plugin_not_with_the_executor() {
        let executor = executor(None);
        assert!(executor.started.get().is_none(), "no engine, pool or ticker yet");
        executor
            .prepare(&builtin(COMMAND, &sha256_hex(COMMAND)), Limits::default())
            .unwrap();
        let inner = executor.started.get().unwrap().as_ref().unwrap();
        assert!(inner.root.get().is_none(), "a module that opens no file needs no root");
    }

    #[test]
    fn an_engine_that_cannot_start_fails_its_calls_not_the_executor() {
        let executor = InProcess::new(InProcessConfig {
            cache_dir: None,
            max_memory: 1 << 62,
            ..InProcessConfig::default()
        })
        .expect("nothing starts with the executor");
        let plugin = builtin(COMMAND, &sha256_hex(COMMAND));
        for _ in 0..2 {
            let error = executor.prepare(&plugin, Limits::default()).unwrap_err();
            assert!(
                error.to_string().contains("cannot start the WebAssembly engine"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_builtin_is_found_in_the_cache_by_its_digest_without_its_bytes() {
        let cache = tempfile::tempdir().unwrap();
        let digest = sha256_hex(COMMAND);
        executor(Some(cache.path()))
            .prepare(&builtin(COMMAND, &digest), Limits::default())
            .unwrap();
        // Another process, as it were: the bytes are not wasm, the digest is
        // the cached module's, and it loads.
        executor(Some(cache.path()))
            .prepare(&builtin(b"not wasm at all", &digest), Limits::default())
            .expect("found by digest, never compiled");
    }

    /// An executor that cannot compile: every module must come from the cache
    /// or from the build.
    fn no_compiler(cache: Option<&Path>) -> InProcess {
        InProcess::new(InProcessConfig {
            cache_dir: cache.map(Path::to_path_buf),
            max_concurrent_calls: 1,
            compile_timeout: Duration::ZERO,
            ..InProcessConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn the_interpreter_compiled_at_build_time_loads_without_compiling() {
        let PluginSource::Builtin { precompiled, .. } = Plugin::python().source else {
            panic!("the interpreter is built in")
        };
        assert!(
            !precompiled.is_empty(),
            "this build compiled the interpreter ahead of time"
        );
        let cache = tempfile::tempdir().unwrap();
        no_compiler(Some(cache.path()))
            .prepare(&Plugin::python(), Limits::default())
            .expect("taken from the binary, not compiled");
        // And kept in the cache, where the next process maps it from the file.
        let cached = std::fs::read_dir(cache.path()).unwrap().count();
        assert_eq!(cached, 1);
        no_compiler(None)
            .prepare(&Plugin::python(), Limits::default())
            .expect("no cache at all: taken from the binary");
    }

    #[test]
    fn a_module_compiled_for_another_engine_is_compiled_again() {
        // Serialized by an engine without epoch checks: loading it would run
        // plugin code that no deadline can stop, so it must be refused.
        let other = Engine::new(&wasmtime::Config::new()).unwrap();
        let foreign: &'static [u8] = Module::new(&other, COMMAND).unwrap().serialize().unwrap().leak();
        for precompiled in [foreign, b"not a compiled module"] {
            let mut plugin = builtin(COMMAND, &sha256_hex(COMMAND));
            if let PluginSource::Builtin {
                precompiled: embedded, ..
            } = &mut plugin.source
            {
                *embedded = precompiled;
            }
            let error = no_compiler(None).prepare(&plugin, Limits::default()).unwrap_err();
            assert!(
                error.to_string().contains("compile limit"),
                "refused, so compiled: {error}"
            );
            executor(None)
                .prepare(&plugin, Limits::default())
                .expect("compiled from its wasm");
        }
    }

    #[test]
    fn a_plugin_file_rewritten_with_the_same_length_is_never_served_stale() {
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join("plugin.wasm");
        std::fs::write(&file, COMMAND).unwrap();
        let plugin = Plugin::from_file(&file);
        let same = executor(Some(cache.path()));
        same.prepare(&plugin, Limits::default()).unwrap();
        // In place (same inode, same length), at once (perhaps in the same
        // timestamp tick): the module must be the new one, in this executor
        // and in a new one sharing the cache.
        std::fs::write(&file, no_abi()).unwrap();
        for executor in [&same, &executor(Some(cache.path()))] {
            let error = executor.prepare(&plugin, Limits::default()).unwrap_err();
            assert_eq!(error.kind, FailureKind::NoAbi, "{error}");
        }
        std::fs::write(&file, COMMAND).unwrap();
        same.prepare(&plugin, Limits::default()).unwrap();
    }

    #[test]
    fn a_pinned_plugin_file_is_checked_against_its_bytes() {
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join("plugin.wasm");
        std::fs::write(&file, COMMAND).unwrap();
        let mut plugin = Plugin::from_file(&file);
        plugin.sha256 = Some(sha256_hex(COMMAND));
        executor(Some(cache.path()))
            .prepare(&plugin, Limits::default())
            .unwrap();
        std::fs::write(&file, no_abi()).unwrap();
        let error = executor(Some(cache.path()))
            .prepare(&plugin, Limits::default())
            .unwrap_err();
        assert!(error.to_string().contains("the manifest pins"), "{error}");
    }
}
