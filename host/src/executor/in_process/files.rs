//! The file capability: granted directories as WASI preopens, and every file
//! operation checked and recorded.
//!
//! WASI enforces the grants (capability-based lookups: no escape by `..` or
//! symlinks, read-only directories refuse writes). But a plugin's libc refuses a
//! path outside every preopen by itself, so the host would never hear of it.
//! So every sandbox also gets `/` preopened onto an empty directory the host
//! owns: every path then reaches the host's WASI functions, which this module
//! wraps: `path_open`, and the operations that change a directory
//! (`path_create_directory`, `path_remove_directory`, `path_unlink_file`,
//! `path_rename`, `path_symlink`, `path_link`, `path_filestat_set_times`) or
//! read metadata (`path_filestat_get`, `path_readlink`).
//! Operations under `/` itself are always denied; under a grant they are
//! checked for write access and escapes, then handed to WASI. Each becomes a
//! [`Check`]. `fd_renumber` and `fd_close` are wrapped too, so the host always
//! knows which descriptor stands for which directory.
//!
//! Grants are opened once per executor ([`GrantHandles`]): every sandbox's
//! preopen is that same open directory (reached through `/proc/self/fd`), never
//! the path looked up again, so a plugin that renames a granted directory away
//! and puts a symlink in its place cannot redirect another plugin's grant.
//!
//! Only regular files and directories are opened: opening a FIFO blocks until
//! a writer comes, and devices do what they like, all inside the host's own
//! thread where no deadline reaches. The check looks before WASI opens; a FIFO
//! renamed into place in between (by another plugin holding write access to a
//! directory with one in it) is not caught in process, only by the subprocess
//! executor's deadline.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::{Caller, Extern, Linker};
use wasmtime_wasi::p1::types;
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::sandbox::Sandbox;
use crate::capability::{Capability, Check, DirGrant, DirIdentity, Grants};

/// WASI errno `notcapable`: what a plugin gets for a denied operation.
const ENOTCAPABLE: i32 = 76;
/// WASI rights bit `fd_write`.
const RIGHT_FD_WRITE: i64 = 1 << 6;
/// WASI oflags `creat` and `trunc`.
const OFLAG_CREAT: i32 = 1;
const OFLAG_TRUNC: i32 = 8;
/// WASI fdflags `append`.
const FDFLAG_APPEND: i32 = 1;

/// What the sandbox knows about a directory descriptor.
#[derive(Debug, Clone)]
pub(super) struct DirInfo {
    /// The guest path it stands for.
    guest: String,
    /// `None` for the host-owned empty `/`; else whether its grant is writable.
    write: Option<bool>,
}

/// Directory descriptors by number: preopens, and what was opened under them.
#[derive(Debug, Default)]
pub(super) struct Dirs(HashMap<u32, DirInfo>);

/// Every granted directory an executor has opened, by path and identity.
#[derive(Default)]
pub(super) struct GrantHandles(Mutex<HashMap<(PathBuf, Option<DirIdentity>), Arc<File>>>);

impl GrantHandles {
    /// The open directory of a grant: opened the first time, the same handle after.
    pub fn open(&self, grant: &DirGrant) -> Result<Arc<File>, String> {
        let key = (grant.host.clone(), grant.identity);
        let mut handles = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = handles.get(&key) {
            return Ok(handle.clone());
        }
        let handle = Arc::new(open_dir(grant)?);
        handles.insert(key, handle.clone());
        Ok(handle)
    }
}

/// Opens a granted directory without following a symlink in its place, and
/// checks that it is still the directory that was granted.
fn open_dir(grant: &DirGrant) -> Result<File, String> {
    let path = &grant.host;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        #[cfg(target_os = "linux")]
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        #[cfg(not(target_os = "linux"))]
        let flags = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        options.custom_flags(flags);
    }
    let replaced = |now: &str| {
        format!(
            "the granted directory {} is no longer the directory that was granted ({now}): refusing the grant; \
             if the change was intended, run again so that the grant is made anew",
            path.display()
        )
    };
    let handle = options.open(path).map_err(|e| match e.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => replaced("its path is now a symlink or not a directory"),
        _ => format!("cannot open the granted directory {}: {e}", path.display()),
    })?;
    let identity = handle
        .metadata()
        .map_err(|e| format!("cannot inspect the granted directory {}: {e}", path.display()))?;
    if let Some(granted) = grant.identity
        && DirIdentity::of(&identity) != Some(granted)
    {
        return Err(replaced("it was moved or replaced since"));
    }
    Ok(handle)
}

/// The path under which the host reopens an open directory: the handle
/// itself, not a lookup of the granted path.
fn handle_path(handle: &File) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()))
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/dev/fd/{}", handle.as_raw_fd()))
    }
}

/// Preopens `/` (onto `root`, when given) and every granted directory, each
/// through its handle (in `handles`, in the order of `grants.dirs`).
/// Preopens get descriptors from 3 on, in the order they are added.
pub(super) fn preopen(
    builder: &mut WasiCtxBuilder,
    grants: &Grants,
    handles: &[Arc<File>],
    root: Option<&Path>,
) -> Result<Dirs, String> {
    let mut dirs = Dirs::default();
    let mut fd = 3;
    if let Some(root) = root {
        builder
            .preopened_dir(root, "/", FsPerms::ReadOnly)
            .map_err(|e| format!("cannot preopen the empty root {}: {e}", root.display()))?;
        dirs.0.insert(
            fd,
            DirInfo {
                guest: "/".into(),
                write: None,
            },
        );
        fd += 1;
    }
    for (dir, handle) in grants.dirs.iter().zip(handles) {
        let perms = if dir.write {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(handle_path(handle), &dir.guest, perms)
            .map_err(|e| format!("cannot open the granted directory {}: {e}", dir.host.display()))?;
        dirs.0.insert(
            fd,
            DirInfo {
                guest: dir.guest.clone(),
                write: Some(dir.write),
            },
        );
        fd += 1;
    }
    Ok(dirs)
}

/// Replaces WASI's file functions with the checked ones.
pub(super) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    const WASI: &str = "wasi_snapshot_preview1";
    linker.allow_shadowing(true);
    linker.func_wrap(WASI, "path_open", path_open)?;
    linker.func_wrap(WASI, "path_create_directory", path_create_directory)?;
    linker.func_wrap(WASI, "path_remove_directory", path_remove_directory)?;
    linker.func_wrap(WASI, "path_unlink_file", path_unlink_file)?;
    linker.func_wrap(WASI, "path_filestat_set_times", path_filestat_set_times)?;
    linker.func_wrap(WASI, "path_rename", path_rename)?;
    linker.func_wrap(WASI, "path_link", path_link)?;
    linker.func_wrap(WASI, "path_symlink", path_symlink)?;
    linker.func_wrap(WASI, "fd_renumber", fd_renumber)?;
    linker.func_wrap(WASI, "fd_close", fd_close)?;
    linker.func_wrap(WASI, "path_filestat_get", path_filestat_get)?;
    linker.func_wrap(WASI, "path_readlink", path_readlink)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs one of WASI's own functions on the sandbox's context: `Ok(Ok(value))`,
/// `Ok(Err(errno))` for an error the guest should see, `Err` for a trap (as
/// in WASI's own glue).
macro_rules! wasi {
    ($caller:expr, |$ctx:ident, $guest:ident| $call:expr) => {{
        let caller: &mut Caller<'_, Sandbox> = $caller;
        match caller.get_export("memory") {
            Some(Extern::Memory(memory)) => {
                // As WASI's own glue does: the fuel bounds how much guest memory one call may read.
                let fuel = wasmtime::AsContextMut::as_context_mut(&mut *caller).hostcall_fuel();
                let (data, sandbox) = memory.data_and_store_mut(&mut *caller);
                sandbox.wasi.set_hostcall_fuel(fuel);
                let mut guest = wiggle::GuestMemory::Unshared(data);
                let $guest = &mut guest;
                let $ctx = &mut sandbox.wasi;
                match wasmtime_wasi::runtime::in_tokio($call) {
                    Ok(value) => Ok::<_, wasmtime::Error>(Ok(value)),
                    Err(error) => {
                        let errno: types::Errno = error.downcast()?;
                        Ok(Err(errno as i32))
                    }
                }
            }
            _ => Ok::<_, wasmtime::Error>(Err(types::Errno::Inval as i32)),
        }
    }};
}

/// A guest string argument.
fn guest_str(ptr: i32, len: i32) -> wiggle::GuestPtr<str> {
    wiggle::GuestPtr::new((ptr as u32, len as u32))
}

/// The errno of a WASI result, for a function that returns only that.
fn errno_of(result: Result<(), i32>) -> i32 {
    result.err().unwrap_or(0)
}

/// Reads a path the guest passed; `Err` is the errno to answer.
fn read_path(caller: &mut Caller<'_, Sandbox>, ptr: i32, len: i32) -> Result<String, i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(types::Errno::Inval as i32);
    };
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    match memory.data(&*caller).get(start..start.saturating_add(len)) {
        Some(path) => Ok(String::from_utf8_lossy(path).into_owned()),
        None => Err(types::Errno::Fault as i32),
    }
}

/// Reads the two paths of a two-path operation; `Err` is the errno to answer.
fn read_paths(
    caller: &mut Caller<'_, Sandbox>,
    first: (i32, i32),
    second: (i32, i32),
) -> Result<(String, String), i32> {
    Ok((
        read_path(caller, first.0, first.1)?,
        read_path(caller, second.0, second.1)?,
    ))
}

/// What to do with one path of an operation, after looking at it.
enum Precheck {
    /// Not a directory descriptor the host knows (a file, a closed number): WASI answers.
    Unknown,
    /// Refused; the check is recorded.
    Denied,
    /// Allowed so far: WASI decides, then [`postcheck`] records the outcome.
    Go { target: String, write: bool },
}

/// Checks `path` under directory descriptor `dirfd` for `capability`, recording a denial.
fn precheck(
    sandbox: &mut Sandbox,
    dirfd: i32,
    path: &str,
    capability: Capability,
    operation: Option<&str>,
) -> Precheck {
    let Some(dir) = sandbox.dirs.0.get(&(dirfd as u32)).cloned() else {
        return Precheck::Unknown;
    };
    let plugin = sandbox.plugin.clone();
    let record = |sandbox: &mut Sandbox, check: Check| {
        sandbox.checks.push(match operation {
            Some(operation) => check.for_operation(operation),
            None => check,
        })
    };
    let Some(target) = join(&dir.guest, path) else {
        let shown = format!("{}/{path}", dir.guest.trim_end_matches('/'));
        let check = match real_path(sandbox, &dir.guest, path) {
            // Where `..` really leads on the host: the grant that would allow it.
            Some(real) => Check::denied(
                &plugin,
                capability,
                shown,
                format!("the path climbs out of {} with `..`, to {}", dir.guest, real.display()),
                real.parent().unwrap_or(&real).display().to_string(),
            ),
            None => Check::refused(
                &plugin,
                capability,
                shown,
                format!("the path climbs out of {} with `..`", dir.guest),
            ),
        };
        record(sandbox, check);
        return Precheck::Denied;
    };
    let remedy = if capability == Capability::Read && path_is_dir_like(path) {
        target.clone()
    } else {
        parent_of(&target)
    };
    match dir.write {
        None => {
            let why = if sandbox.grants.denied.is_empty() {
                "no grant covers it".to_string()
            } else {
                format!("no grant covers it (withdrawn: {})", sandbox.grants.withdrawn())
            };
            record(sandbox, Check::denied(&plugin, capability, &target, why, remedy));
            return Precheck::Denied;
        }
        Some(false) if capability == Capability::Write => {
            let root = root_of(&sandbox.grants, &target).unwrap_or(&dir.guest).to_string();
            record(
                sandbox,
                Check::denied(
                    &plugin,
                    Capability::Write,
                    &target,
                    format!("{root} is granted read-only"),
                    root.clone(),
                ),
            );
            return Precheck::Denied;
        }
        Some(_) => {}
    }
    if let Some(kind) = special_file(sandbox, &target) {
        record(
            sandbox,
            Check::refused(
                &plugin,
                capability,
                &target,
                format!(
                    "it is a {kind}, not a regular file or directory; plugins may open only those \
                     (opening a {kind} can block the host)"
                ),
            ),
        );
        return Precheck::Denied;
    }
    Precheck::Go {
        target,
        write: dir.write == Some(true),
    }
}

/// Records how WASI answered an operation that [`precheck`] let through.
fn postcheck(sandbox: &mut Sandbox, capability: Capability, operation: Option<&str>, target: &str, errno: i32) {
    let plugin = sandbox.plugin.clone();
    let grant = root_of(&sandbox.grants, target).unwrap_or("/").to_string();
    let check = if errno == types::Errno::Notcapable as i32
        || errno == types::Errno::Perm as i32
        || errno == types::Errno::Acces as i32
    {
        // Not permitted by the capability layer: a symlink (or `..` through one) pointing out.
        // Where it really points, for the operator (the plugin never sees this).
        let points_to = sandbox
            .grants
            .dir_for(target)
            .and_then(|d| std::fs::canonicalize(d.host.join(target[d.guest.len()..].trim_start_matches('/'))).ok());
        match points_to {
            Some(real) => Check::denied(
                &plugin,
                capability,
                target,
                format!(
                    "it resolves outside {grant}, to {} (a symlink pointing out of the grant)",
                    real.display()
                ),
                real.parent().map_or(parent_of(target), |p| p.display().to_string()),
            ),
            None => Check::denied(
                &plugin,
                capability,
                target,
                format!("it resolves outside {grant} (a symlink or `..` pointing out of the grant)"),
                parent_of(target),
            ),
        }
    } else {
        Check::allowed(
            &plugin,
            capability,
            target,
            format!("{} {grant}", capability.manifest_key()),
        )
    };
    sandbox.checks.push(match operation {
        Some(operation) => check.for_operation(operation),
        None => check,
    });
}

/// Where `..` in `path` really leads from the grant at `guest`, on the host.
fn real_path(sandbox: &Sandbox, guest: &str, path: &str) -> Option<PathBuf> {
    let grant = sandbox.grants.dir_for(guest)?;
    let base = grant.host.join(guest[grant.guest.len()..].trim_start_matches('/'));
    Some(crate::capability::normalize(&base.join(path)))
}

/// The file type bits (`S_IFMT`) of what `target` names, following symlinks,
/// looked up through its grant's handle; `None` when it cannot be seen.
#[cfg(unix)]
fn file_type(sandbox: &Sandbox, target: &str) -> Option<libc::mode_t> {
    use std::os::fd::AsRawFd;
    let index = sandbox.grant_index(target)?;
    let grant = &sandbox.grants.dirs[index];
    let handle = sandbox.handles.get(index)?;
    let relative = target[grant.guest.len()..].trim_start_matches('/');
    let relative = std::ffi::CString::new(if relative.is_empty() { "." } else { relative }).ok()?;
    // SAFETY: a zeroed stat is a valid buffer for fstatat to fill.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open (the handle lives as long as the sandbox),
    // the path is NUL-terminated, and `stat` is writable.
    if unsafe { libc::fstatat(handle.as_raw_fd(), relative.as_ptr(), &mut stat, 0) } != 0 {
        return None; // missing or unreachable: WASI answers
    }
    Some(stat.st_mode & libc::S_IFMT)
}

/// What kind of special file `target` is, if it is one (a FIFO, a device, a socket).
fn special_file(sandbox: &Sandbox, target: &str) -> Option<&'static str> {
    #[cfg(unix)]
    {
        match file_type(sandbox, target)? {
            libc::S_IFIFO => Some("FIFO"),
            libc::S_IFCHR => Some("character device"),
            libc::S_IFBLK => Some("block device"),
            libc::S_IFSOCK => Some("socket"),
            _ => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (sandbox, target);
        None
    }
}

/// Whether `target` is a directory (a descriptor opened on it can be the base of further opens).
fn is_dir(sandbox: &Sandbox, target: &str) -> bool {
    #[cfg(unix)]
    {
        file_type(sandbox, target) == Some(libc::S_IFDIR)
    }
    #[cfg(not(unix))]
    {
        let _ = (sandbox, target);
        true
    }
}

#[allow(clippy::too_many_arguments)]
fn path_open(
    mut caller: Caller<'_, Sandbox>,
    dirfd: i32,
    dirflags: i32,
    path_ptr: i32,
    path_len: i32,
    oflags: i32,
    rights_base: i64,
    rights_inheriting: i64,
    fdflags: i32,
    opened: i32,
) -> wasmtime::Result<i32> {
    let path = match read_path(&mut caller, path_ptr, path_len) {
        Ok(path) => path,
        Err(errno) => return Ok(errno),
    };
    let write =
        rights_base & RIGHT_FD_WRITE != 0 || oflags & (OFLAG_CREAT | OFLAG_TRUNC) != 0 || fdflags & FDFLAG_APPEND != 0;
    let capability = if write { Capability::Write } else { Capability::Read };
    let verdict = precheck(caller.data_mut(), dirfd, &path, capability, None);
    let target = match verdict {
        Precheck::Denied => return Ok(ENOTCAPABLE),
        Precheck::Unknown => None,
        Precheck::Go { target, write } => Some((target, write)),
    };
    let result = wasi!(&mut caller, |ctx, guest| ctx.path_open(
        guest,
        types::Fd::from(dirfd as u32),
        types::Lookupflags::from_bits_truncate(dirflags as u32),
        guest_str(path_ptr, path_len),
        types::Oflags::from_bits_truncate(oflags as u16),
        types::Rights::from_bits_truncate(rights_base as u64),
        types::Rights::from_bits_truncate(rights_inheriting as u64),
        types::Fdflags::from_bits_truncate(fdflags as u16),
    ))?;
    let (errno, new_fd) = match result {
        Ok(fd) => {
            let fd = u32::from(fd);
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                return Ok(types::Errno::Inval as i32);
            };
            let start = opened as u32 as usize;
            match memory.data_mut(&mut caller).get_mut(start..start.saturating_add(4)) {
                Some(slot) => slot.copy_from_slice(&fd.to_le_bytes()),
                None => return Ok(types::Errno::Fault as i32),
            }
            (0, Some(fd))
        }
        Err(errno) => (errno, None),
    };
    let sandbox = caller.data_mut();
    if let Some(fd) = new_fd {
        // The number may have been a directory's before; it is this now.
        sandbox.dirs.0.remove(&fd);
    }
    if let Some((target, write)) = target {
        postcheck(sandbox, capability, None, &target, errno);
        if let Some(fd) = new_fd.filter(|_| is_dir(sandbox, &target)) {
            sandbox.dirs.0.insert(
                fd,
                DirInfo {
                    guest: target,
                    write: Some(write),
                },
            );
        }
    }
    Ok(errno)
}

/// One operation on one path: read the path, check it for `capability`
/// (answering a denial with `notcapable`), let `run` call WASI's own function,
/// and record how it went.
fn checked(
    caller: &mut Caller<'_, Sandbox>,
    (dirfd, path_ptr, path_len): (i32, i32, i32),
    capability: Capability,
    operation: &str,
    run: impl FnOnce(&mut Caller<'_, Sandbox>) -> wasmtime::Result<i32>,
) -> wasmtime::Result<i32> {
    let path = match read_path(caller, path_ptr, path_len) {
        Ok(path) => path,
        Err(errno) => return Ok(errno),
    };
    let verdict = precheck(caller.data_mut(), dirfd, &path, capability, Some(operation));
    if matches!(verdict, Precheck::Denied) {
        return Ok(ENOTCAPABLE);
    }
    let errno = run(caller)?;
    if let Precheck::Go { target, .. } = verdict {
        postcheck(caller.data_mut(), capability, Some(operation), &target, errno);
    }
    Ok(errno)
}

fn path_create_directory(mut caller: Caller<'_, Sandbox>, dirfd: i32, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    checked(&mut caller, (dirfd, ptr, len), Capability::Write, "mkdir", |caller| {
        let (fd, path) = (types::Fd::from(dirfd as u32), guest_str(ptr, len));
        Ok(errno_of(
            wasi!(caller, |ctx, guest| ctx.path_create_directory(guest, fd, path))?
        ))
    })
}

fn path_remove_directory(mut caller: Caller<'_, Sandbox>, dirfd: i32, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    checked(&mut caller, (dirfd, ptr, len), Capability::Write, "rmdir", |caller| {
        let (fd, path) = (types::Fd::from(dirfd as u32), guest_str(ptr, len));
        Ok(errno_of(
            wasi!(caller, |ctx, guest| ctx.path_remove_directory(guest, fd, path))?
        ))
    })
}

fn path_unlink_file(mut caller: Caller<'_, Sandbox>, dirfd: i32, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    checked(&mut caller, (dirfd, ptr, len), Capability::Write, "unlink", |caller| {
        let (fd, path) = (types::Fd::from(dirfd as u32), guest_str(ptr, len));
        Ok(errno_of(
            wasi!(caller, |ctx, guest| ctx.path_unlink_file(guest, fd, path))?
        ))
    })
}

#[allow(clippy::too_many_arguments)]
fn path_filestat_set_times(
    mut caller: Caller<'_, Sandbox>,
    dirfd: i32,
    flags: i32,
    ptr: i32,
    len: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> wasmtime::Result<i32> {
    checked(
        &mut caller,
        (dirfd, ptr, len),
        Capability::Write,
        "set_times",
        |caller| {
            Ok(errno_of(wasi!(caller, |ctx, guest| ctx.path_filestat_set_times(
                guest,
                types::Fd::from(dirfd as u32),
                types::Lookupflags::from_bits_truncate(flags as u32),
                guest_str(ptr, len),
                atim as u64,
                mtim as u64,
                types::Fstflags::from_bits_truncate(fst_flags as u16),
            ))?))
        },
    )
}

/// Two paths, one operation: the source checked for `src_capability`, the
/// destination for write; a denial of either answers `notcapable`. Then
/// `run` calls WASI's own function, and both outcomes are recorded.
fn checked_pair(
    caller: &mut Caller<'_, Sandbox>,
    operation: &str,
    (src_fd, src_ptr, src_len, src_capability): (i32, i32, i32, Capability),
    (dest_fd, dest_ptr, dest_len): (i32, i32, i32),
    run: impl FnOnce(&mut Caller<'_, Sandbox>) -> wasmtime::Result<i32>,
) -> wasmtime::Result<i32> {
    let (src, dest) = match read_paths(caller, (src_ptr, src_len), (dest_ptr, dest_len)) {
        Ok(paths) => paths,
        Err(errno) => return Ok(errno),
    };
    let sandbox = caller.data_mut();
    let first = precheck(sandbox, src_fd, &src, src_capability, Some(operation));
    let second = precheck(sandbox, dest_fd, &dest, Capability::Write, Some(operation));
    if matches!(first, Precheck::Denied) || matches!(second, Precheck::Denied) {
        return Ok(ENOTCAPABLE);
    }
    let errno = run(caller)?;
    let sandbox = caller.data_mut();
    for (verdict, capability) in [(first, src_capability), (second, Capability::Write)] {
        if let Precheck::Go { target, .. } = verdict {
            postcheck(sandbox, capability, Some(operation), &target, errno);
        }
    }
    Ok(errno)
}

fn path_rename(
    mut caller: Caller<'_, Sandbox>,
    src_fd: i32,
    src_ptr: i32,
    src_len: i32,
    dest_fd: i32,
    dest_ptr: i32,
    dest_len: i32,
) -> wasmtime::Result<i32> {
    // Renaming removes the source entry: both ends need write access.
    let src = (src_fd, src_ptr, src_len, Capability::Write);
    checked_pair(&mut caller, "rename", src, (dest_fd, dest_ptr, dest_len), |caller| {
        Ok(errno_of(wasi!(caller, |ctx, guest| ctx.path_rename(
            guest,
            types::Fd::from(src_fd as u32),
            guest_str(src_ptr, src_len),
            types::Fd::from(dest_fd as u32),
            guest_str(dest_ptr, dest_len),
        ))?))
    })
}

#[allow(clippy::too_many_arguments)]
fn path_link(
    mut caller: Caller<'_, Sandbox>,
    src_fd: i32,
    src_flags: i32,
    src_ptr: i32,
    src_len: i32,
    dest_fd: i32,
    dest_ptr: i32,
    dest_len: i32,
) -> wasmtime::Result<i32> {
    let src = (src_fd, src_ptr, src_len, Capability::Read);
    checked_pair(&mut caller, "link", src, (dest_fd, dest_ptr, dest_len), |caller| {
        Ok(errno_of(wasi!(caller, |ctx, guest| ctx.path_link(
            guest,
            types::Fd::from(src_fd as u32),
            types::Lookupflags::from_bits_truncate(src_flags as u32),
            guest_str(src_ptr, src_len),
            types::Fd::from(dest_fd as u32),
            guest_str(dest_ptr, dest_len),
        ))?))
    })
}

/// `path_symlink(contents, dirfd, link)`: the link needs write access, and its
/// contents must stay inside the link's grant. WASI would refuse to follow a
/// link pointing out anyway, but other plugins' grants and programs on the
/// host follow links by path: a plugin must not leave one pointing out.
fn path_symlink(
    mut caller: Caller<'_, Sandbox>,
    contents_ptr: i32,
    contents_len: i32,
    dirfd: i32,
    link_ptr: i32,
    link_len: i32,
) -> wasmtime::Result<i32> {
    let (contents, link) = match read_paths(&mut caller, (contents_ptr, contents_len), (link_ptr, link_len)) {
        Ok(paths) => paths,
        Err(errno) => return Ok(errno),
    };
    let verdict = precheck(caller.data_mut(), dirfd, &link, Capability::Write, Some("symlink"));
    let target = match verdict {
        Precheck::Denied => return Ok(ENOTCAPABLE),
        Precheck::Unknown => None,
        Precheck::Go { target, .. } => Some(target),
    };
    if let Some(target) = &target {
        let sandbox = caller.data_mut();
        let grant = root_of(&sandbox.grants, target).unwrap_or("/").to_string();
        let inside = !contents.starts_with('/')
            && join(&parent_of(target), &contents)
                .is_some_and(|points| root_of(&sandbox.grants, &points) == Some(&grant));
        if !inside {
            let plugin = sandbox.plugin.clone();
            sandbox.checks.push(
                Check::refused(
                    &plugin,
                    Capability::Write,
                    target,
                    format!(
                        "the link would point to `{contents}`, outside {grant}; a symlink must stay inside its grant"
                    ),
                )
                .for_operation("symlink"),
            );
            return Ok(ENOTCAPABLE);
        }
    }
    let errno = errno_of(wasi!(&mut caller, |ctx, guest| ctx.path_symlink(
        guest,
        guest_str(contents_ptr, contents_len),
        types::Fd::from(dirfd as u32),
        guest_str(link_ptr, link_len),
    ))?);
    if let Some(target) = target {
        postcheck(caller.data_mut(), Capability::Write, Some("symlink"), &target, errno);
    }
    Ok(errno)
}

/// Writes a WASI result the guest asked for at `ptr`; `Err` is the errno.
fn write_result<T: wiggle::GuestType>(caller: &mut Caller<'_, Sandbox>, ptr: i32, value: T) -> Result<(), i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(types::Errno::Inval as i32);
    };
    let mut guest = wiggle::GuestMemory::Unshared(memory.data_mut(&mut *caller));
    guest
        .write(wiggle::GuestPtr::<T>::new(ptr as u32), value)
        .map_err(|_| types::Errno::Fault as i32)
}

/// `path_filestat_get`: reading a file's metadata is a read of it, checked and audited.
fn path_filestat_get(
    mut caller: Caller<'_, Sandbox>,
    dirfd: i32,
    flags: i32,
    ptr: i32,
    len: i32,
    stat_ptr: i32,
) -> wasmtime::Result<i32> {
    checked(&mut caller, (dirfd, ptr, len), Capability::Read, "stat", |caller| {
        let result = wasi!(caller, |ctx, guest| ctx.path_filestat_get(
            guest,
            types::Fd::from(dirfd as u32),
            types::Lookupflags::from_bits_truncate(flags as u32),
            guest_str(ptr, len),
        ))?;
        Ok(match result {
            Ok(stat) => errno_of(write_result(caller, stat_ptr, stat)),
            Err(errno) => errno,
        })
    })
}

/// `path_readlink`: reading where a link points is a read of it, checked and audited.
fn path_readlink(
    mut caller: Caller<'_, Sandbox>,
    dirfd: i32,
    ptr: i32,
    len: i32,
    buf: i32,
    buf_len: i32,
    used_ptr: i32,
) -> wasmtime::Result<i32> {
    checked(&mut caller, (dirfd, ptr, len), Capability::Read, "readlink", |caller| {
        let result = wasi!(caller, |ctx, guest| ctx.path_readlink(
            guest,
            types::Fd::from(dirfd as u32),
            guest_str(ptr, len),
            wiggle::GuestPtr::new(buf as u32),
            buf_len as u32,
        ))?;
        Ok(match result {
            Ok(used) => errno_of(write_result::<u32>(caller, used_ptr, used)),
            Err(errno) => errno,
        })
    })
}

/// `fd_renumber(from, to)`: `to` becomes what `from` was, for the checks too.
fn fd_renumber(mut caller: Caller<'_, Sandbox>, from: i32, to: i32) -> wasmtime::Result<i32> {
    let errno = errno_of(wasi!(&mut caller, |ctx, guest| ctx.fd_renumber(
        guest,
        types::Fd::from(from as u32),
        types::Fd::from(to as u32)
    ))?);
    if errno == 0 && from != to {
        let dirs = &mut caller.data_mut().dirs.0;
        match dirs.remove(&(from as u32)) {
            Some(info) => dirs.insert(to as u32, info),
            None => dirs.remove(&(to as u32)),
        };
    }
    Ok(errno)
}

/// `fd_close(fd)`: a closed directory's number no longer stands for it.
fn fd_close(mut caller: Caller<'_, Sandbox>, fd: i32) -> wasmtime::Result<i32> {
    let errno = errno_of(wasi!(&mut caller, |ctx, guest| ctx
        .fd_close(guest, types::Fd::from(fd as u32)))?);
    if errno == 0 {
        caller.data_mut().dirs.0.remove(&(fd as u32));
    }
    Ok(errno)
}

/// `base/path` as a clean guest path, or `None` if `..` climbs above `base`.
fn join(base: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let base = base.trim_end_matches('/');
    Some(if parts.is_empty() {
        if base.is_empty() { "/".into() } else { base.to_string() }
    } else {
        format!("{base}/{}", parts.join("/"))
    })
}

fn parent_of(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((parent, _)) => parent.to_string(),
    }
}

fn path_is_dir_like(path: &str) -> bool {
    path.is_empty() || path == "." || path.ends_with('/')
}

/// The grant a guest path falls under.
fn root_of<'a>(grants: &'a Grants, target: &str) -> Option<&'a str> {
    grants.dir_for(target).map(|d| d.guest.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_climbing_out_is_caught() {
        assert_eq!(join("/data", "a/b.txt").as_deref(), Some("/data/a/b.txt"));
        assert_eq!(join("/data", "a/../b.txt").as_deref(), Some("/data/b.txt"));
        assert_eq!(join("/data", ".").as_deref(), Some("/data"));
        assert_eq!(join("/data", "../etc/passwd"), None);
        assert_eq!(join("/", "etc/passwd").as_deref(), Some("/etc/passwd"));
        assert_eq!(parent_of("/etc/passwd"), "/etc");
        assert_eq!(parent_of("/passwd"), "/");
    }
}
