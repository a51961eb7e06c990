// Picks kernel modules out of an unpacked Debian linux-image package and lays them out for an
// initramfs. Debian's package ships no modules.dep (its postinst runs depmod), so dependencies
// come from each module's own .modinfo strings ("depends=a,b", "softdep=pre: c"), the same
// source depmod reads. Modules compressed as .ko.xz/.ko.zst are decompressed, because busybox
// insmod loads plain ELF only.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findTool } from './host-tools.js';

/** The modules the default guest carries (plus what they depend on). */
export const DEFAULT_MODULES: readonly string[] = [
  'scsi_common', 'scsi_mod', 'libata', 'ata_piix', 'ata_generic', 'sd_mod', 'cdrom', 'sr_mod',
  // sd_mod -> t10-pi -> crc-t10dif/crc64-rocksoft softdep on these crypto drivers.
  'crct10dif_generic', 'crc64_rocksoft_generic',
  'e1000', 'mii', '8139cp', '8139too', 'button',
  // The power button reaches busybox acpid as an input event.
  'evdev',
  // The std VGA's DRM driver (hvm.modules=bochs): drm, drm_kms_helper, ttm, drm_vram_helper come with it.
  'bochs',
  // The Cirrus CL-GD5446's DRM driver (hvm.modules=cirrus; drivers/gpu/drm/tiny/cirrus.ko).
  'cirrus',
  // The PS/2 mouse driver (hvm.modules=psmouse): the mouse a VNC client moves.
  'psmouse',
];

/** Kernel module names treat '-' and '_' alike (modprobe's rule). */
export function moduleKey(name: string): string {
  return name.replace(/-/g, '_');
}

/** Module name of a path like kernel/drivers/ata/libata.ko.xz. */
export function moduleNameOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '');
}

/** Hard and soft dependencies read from a module's .modinfo strings. */
export interface ModInfoDeps {
  depends: string[];
  softPre: string[];
  softPost: string[];
}

/** Extracts `depends=` and `softdep=` from the NUL-separated .modinfo strings of a .ko image. */
export function parseModInfo(ko: Uint8Array): ModInfoDeps {
  const out: ModInfoDeps = { depends: [], softPre: [], softPost: [] };
  const text = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength).toString('latin1');
  for (const key of ['depends=', 'softdep=']) {
    let at = text.indexOf('\0' + key);
    // Bounded by the file: each hit moves past the previous one.
    while (at >= 0) {
      const start = at + 1 + key.length;
      const end = text.indexOf('\0', start);
      const value = text.slice(start, end < 0 ? text.length : end);
      if (key === 'depends=') {
        out.depends.push(...value.split(',').filter((s) => s !== ''));
      } else {
        // "pre: a b post: c"
        let list: string[] | null = null;
        for (const word of value.split(/\s+/)) {
          if (word === 'pre:') list = out.softPre;
          else if (word === 'post:') list = out.softPost;
          else if (word !== '' && list) list.push(word);
        }
      }
      at = text.indexOf('\0' + key, start);
    }
  }
  return out;
}

/** A resolved module set: paths relative to /lib/modules/<ver>, dependencies before dependents. */
export interface ModuleSet {
  /** Relative .ko paths (as shipped, maybe compressed), in load order. */
  order: string[];
  /** Hard dependencies per relative path (as shipped). */
  deps: Map<string, string[]>;
  /** Requested modules that the kernel has built in (nothing to load). */
  builtin: string[];
  /** Requested or hard-dependency names that matched no module file. */
  missing: string[];
  /** Soft-dependency names that matched no module file (often an alias such as "crct10dif"). */
  softUnresolved: string[];
}

/** Lists every module file under dir/kernel, keyed by `moduleKey(name)` → relative path. */
export function indexModules(modDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(modDir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) index.set(moduleKey(moduleNameOf(e.name)), r);
    }
  };
  walk('kernel');
  return index;
}

/** Reads a module file's bytes, decompressing .xz/.zst/.gz through the system tools. */
export function readModule(file: string): Buffer {
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : file.endsWith('.gz') ? 'gzip' : null;
  if (tool === null) return readFileSync(file);
  const r = spawnSync(tool, ['-d', '-c', '--', file], { maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) throw new Error(`cannot decompress ${file} with ${tool}: ${r.error?.message ?? r.stderr.toString().trim()}`);
  return r.stdout;
}

/**
 * Resolves `wanted` and everything they need (hard deps, plus soft deps that name a module file)
 * inside an unpacked /lib/modules/<ver> directory.
 */
export function resolveModules(
  modDir: string,
  wanted: readonly string[],
  read: (file: string) => Uint8Array = readModule,
): ModuleSet {
  const index = indexModules(modDir);
  let builtinText = '';
  try { builtinText = readFileSync(join(modDir, 'modules.builtin'), 'latin1'); } catch { /* none shipped */ }
  const builtinKeys = new Set(builtinText.split('\n').filter((l) => l !== '').map((l) => moduleKey(moduleNameOf(l))));
  const set: ModuleSet = { order: [], deps: new Map(), builtin: [], missing: [], softUnresolved: [] };
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, requested: boolean): void => {
    const key = moduleKey(name);
    const rel = index.get(key);
    if (rel === undefined) {
      const list = builtinKeys.has(key) ? set.builtin : requested ? set.missing : set.softUnresolved;
      if (!list.includes(name)) list.push(name);
      return;
    }
    if (state.has(rel)) return; // done, or a cycle (which depmod would also reject) cut here
    state.set(rel, 'visiting');
    const info = parseModInfo(read(join(modDir, rel)));
    for (const s of info.softPre) visit(s, false);
    const hard: string[] = [];
    for (const d of info.depends) {
      visit(d, true);
      const drel = index.get(moduleKey(d));
      if (drel !== undefined) hard.push(drel);
    }
    set.deps.set(rel, hard);
    set.order.push(rel);
    state.set(rel, 'done');
    for (const s of info.softPost) visit(s, false);
  };
  for (const w of wanted) visit(w, true);
  return set;
}

/** Strips a compression suffix: the image carries plain .ko files. */
export function plainKoPath(rel: string): string {
  return rel.replace(/\.ko\.(xz|zst|gz)$/, '.ko');
}

/**
 * modules.dep text in depmod's format: "mod.ko: dep1.ko dep2.ko", every transitive dependency
 * listed, the one to load first last (busybox and kmod modprobe both load from the end).
 */
export function formatModulesDep(set: ModuleSet): string {
  const lines: string[] = [];
  for (const rel of set.order) {
    const seen = new Set<string>();
    const post: string[] = [];
    const walk = (r: string): void => {
      for (const d of set.deps.get(r) ?? []) {
        if (seen.has(d)) continue;
        seen.add(d);
        walk(d);
        post.push(d);
      }
    };
    walk(rel);
    lines.push(`${plainKoPath(rel)}:${post.reverse().map((d) => ' ' + plainKoPath(d)).join('')}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes the chosen modules, decompressed, under stage/lib/modules/<ver>, with modules.dep and
 * the other index files: `depmod -b` when it is installed, otherwise our own modules.dep.
 * Returns how the index was made.
 */
export function stageModules(modDir: string, set: ModuleSet, stageRoot: string, version: string): 'depmod' | 'own' {
  const out = join(stageRoot, 'lib', 'modules', version);
  mkdirSync(out, { recursive: true });
  for (const rel of set.order) {
    const dst = join(out, plainKoPath(rel));
    mkdirSync(dirname(dst), { recursive: true });
    if (dst === join(out, rel)) copyFileSync(join(modDir, rel), dst);
    else writeFileSync(dst, readModule(join(modDir, rel)));
  }
  for (const f of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    try { copyFileSync(join(modDir, f), join(out, f)); } catch { /* optional */ }
  }
  writeFileSync(join(out, 'modules.dep'), formatModulesDep(set));
  const depmod = findTool('depmod');
  if (depmod === null) return 'own';
  const r = spawnSync(depmod, ['-b', stageRoot, version], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? 'own' : 'depmod';
}
