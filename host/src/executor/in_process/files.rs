//! The file capability: granted directories as WASI preopens, and every open
//! checked and recorded.
//!
//! WASI enforces the grants (capability-based lookups: no escape by `..` or
//! symlinks, read-only directories refuse writes). But a plugin's libc refuses a
//! path outside every preopen by itself, so the host would never hear of it.
//! So every sandbox also gets `/` preopened onto an empty directory the host
//! owns: every path then reaches the host's `path_open`, which this module wraps.
//! Opens under `/` itself are always denied; opens under a grant are checked for
//! write access and escapes, then handed to WASI. Each open becomes a [`Check`].

use std::collections::HashMap;
use std::path::{Component, Path};

use wasmtime::{Caller, Extern, Linker};
use wasmtime_wasi::p1::types;
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::sandbox::Sandbox;
use crate::capability::{Capability, Check, Grants};

/// WASI errno `notcapable`: what a plugin gets for a denied open.
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

/// Preopens `/` (onto `root`, when given) and every granted directory.
/// Preopens get descriptors from 3 on, in the order they are added.
pub(super) fn preopen(builder: &mut WasiCtxBuilder, grants: &Grants, root: Option<&Path>) -> Result<Dirs, String> {
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
    for dir in &grants.dirs {
        let perms = if dir.write {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(&dir.host, &dir.guest, perms)
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

/// Replaces WASI's `path_open` with the checked one.
pub(super) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap("wasi_snapshot_preview1", "path_open", path_open)?;
    linker.allow_shadowing(false);
    Ok(())
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
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Ok(types::Errno::Inval as i32);
    };
    let (start, len) = (path_ptr as u32 as usize, path_len as u32 as usize);
    let Some(path) = memory.data(&caller).get(start..start.saturating_add(len)) else {
        return Ok(types::Errno::Fault as i32);
    };
    let path = String::from_utf8_lossy(path).into_owned();
    let write =
        rights_base & RIGHT_FD_WRITE != 0 || oflags & (OFLAG_CREAT | OFLAG_TRUNC) != 0 || fdflags & FDFLAG_APPEND != 0;
    let capability = if write { Capability::Write } else { Capability::Read };

    let plugin = caller.data().plugin.clone();
    let args = (
        dirfd,
        dirflags,
        path_ptr,
        path_len,
        oflags,
        rights_base,
        rights_inheriting,
        fdflags,
        opened,
    );
    let Some(dir) = caller.data().dirs.0.get(&(dirfd as u32)).cloned() else {
        // Not a directory we know (a file, a closed descriptor): WASI answers.
        return delegate(&mut caller, args).map(|(errno, _)| errno);
    };
    let sandbox = caller.data_mut();
    let Some(target) = join(&dir.guest, &path) else {
        let check = Check::denied(
            &plugin,
            capability,
            format!("{}/{path}", dir.guest.trim_end_matches('/')),
            format!("the path climbs out of {} with `..`", dir.guest),
            parent_of(&clamped(&dir.guest, &path)),
        );
        sandbox.checks.push(check);
        return Ok(ENOTCAPABLE);
    };
    let remedy = if capability == Capability::Read && path_is_dir_like(&path) {
        target.clone()
    } else {
        parent_of(&target)
    };
    match dir.write {
        None => {
            let why = if sandbox.grants.denied.is_empty() {
                "no grant covers it".to_string()
            } else {
                format!("no grant covers it (withdrawn: {})", sandbox.grants.denied.join(", "))
            };
            sandbox
                .checks
                .push(Check::denied(&plugin, capability, &target, why, remedy));
            return Ok(ENOTCAPABLE);
        }
        Some(false) if write => {
            sandbox.checks.push(Check::denied(
                &plugin,
                Capability::Write,
                &target,
                format!(
                    "{} is granted read-only",
                    root_of(&sandbox.grants, &target).unwrap_or(&dir.guest)
                ),
                root_of(&sandbox.grants, &target).unwrap_or(&dir.guest),
            ));
            return Ok(ENOTCAPABLE);
        }
        Some(_) => {}
    }
    let (errno, new_fd) = delegate(&mut caller, args)?;
    let sandbox = caller.data_mut();
    let grant = root_of(&sandbox.grants, &target).unwrap_or(&dir.guest).to_string();
    let check = match errno {
        // Not permitted by the capability layer: a symlink (or `..` through one) pointing out.
        e if e == types::Errno::Notcapable as i32
            || e == types::Errno::Perm as i32
            || e == types::Errno::Acces as i32 =>
        {
            // Where it really points, for the operator (the plugin never sees this).
            let points_to = sandbox
                .grants
                .dir_for(&target)
                .and_then(|d| std::fs::canonicalize(d.host.join(target[d.guest.len()..].trim_start_matches('/'))).ok());
            let (why, remedy) = match points_to {
                Some(real) => (
                    format!(
                        "it resolves outside {grant}, to {} (a symlink pointing out of the grant)",
                        real.display()
                    ),
                    real.parent().map_or(remedy, |p| p.display().to_string()),
                ),
                None => (
                    format!("it resolves outside {grant} (a symlink or `..` pointing out of the grant)"),
                    remedy,
                ),
            };
            Check::denied(&plugin, capability, &target, why, remedy)
        }
        _ => Check::allowed(
            &plugin,
            capability,
            &target,
            format!("{} {grant}", capability.manifest_key()),
        ),
    };
    sandbox.checks.push(check);
    if let Some(fd) = new_fd {
        sandbox.dirs.0.insert(
            fd,
            DirInfo {
                guest: target,
                write: dir.write,
            },
        );
    }
    Ok(errno)
}

/// `path_open`'s arguments, as the guest passed them.
type OpenArgs = (i32, i32, i32, i32, i32, i64, i64, i32, i32);

/// Runs WASI's own `path_open`; answers the errno and, on success, the new descriptor.
fn delegate(caller: &mut Caller<'_, Sandbox>, args: OpenArgs) -> wasmtime::Result<(i32, Option<u32>)> {
    let (dirfd, dirflags, path_ptr, path_len, oflags, rights_base, rights_inheriting, fdflags, opened) = args;
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Ok((types::Errno::Inval as i32, None));
    };
    // As WASI's own glue does: the fuel bounds how much guest memory one call may read.
    let fuel = wasmtime::AsContextMut::as_context_mut(&mut *caller).hostcall_fuel();
    let (data, sandbox) = memory.data_and_store_mut(&mut *caller);
    sandbox.wasi.set_hostcall_fuel(fuel);
    let mut guest = wiggle::GuestMemory::Unshared(data);
    let ctx = &mut sandbox.wasi;
    let result = wasmtime_wasi::runtime::in_tokio(ctx.path_open(
        &mut guest,
        types::Fd::from(dirfd as u32),
        types::Lookupflags::from_bits_truncate(dirflags as u32),
        wiggle::GuestPtr::new((path_ptr as u32, path_len as u32)),
        types::Oflags::from_bits_truncate(oflags as u16),
        types::Rights::from_bits_truncate(rights_base as u64),
        types::Rights::from_bits_truncate(rights_inheriting as u64),
        types::Fdflags::from_bits_truncate(fdflags as u16),
    ));
    match result {
        Ok(fd) => {
            let fd = u32::from(fd);
            let bytes = fd.to_le_bytes();
            let start = opened as u32 as usize;
            match data_mut(&memory, caller, start) {
                Some(slot) => slot.copy_from_slice(&bytes),
                None => return Ok((types::Errno::Fault as i32, None)),
            }
            Ok((0, Some(fd)))
        }
        Err(error) => {
            // An errno is an answer for the guest; anything else is a trap, as in WASI itself.
            let errno = error.downcast()?;
            Ok((errno as i32, None))
        }
    }
}

fn data_mut<'a>(memory: &wasmtime::Memory, caller: &'a mut Caller<'_, Sandbox>, start: usize) -> Option<&'a mut [u8]> {
    memory.data_mut(caller).get_mut(start..start.checked_add(4)?)
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

/// `base/path` with `..` stopping at `/`: where a climbing path points.
fn clamped(base: &str, path: &str) -> String {
    let mut parts: Vec<String> = base.split('/').filter(|p| !p.is_empty()).map(String::from).collect();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
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
        assert_eq!(clamped("/data", "../etc/passwd"), "/etc/passwd");
    }
}
