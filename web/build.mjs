// Builds the viewer app and the operator console into kensho/http/webapp (committed).
//
//   npm ci && node build.mjs          build (what `make web` runs)
//   npm ci && node build.mjs --check  rebuild into a temporary directory and fail if the
//                                     result differs from the committed files (CI)
//
// Reproducible: the same lock file gives byte-identical output (esbuild is deterministic; no
// timestamps, no absolute paths). Asset names carry a hash of their content, so Kenshō serves
// them `immutable`; the two pages name the current assets and are served `no-cache`.
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "kensho", "http", "webapp");
const check = process.argv.includes("--check");

function hashed(name, bytes) {
  const digest = createHash("sha256").update(bytes).digest("base64url").slice(0, 10);
  const ext = extname(name);
  return `${basename(name, ext)}-${digest}${ext}`;
}

async function copyHashed(source, assets) {
  const bytes = await readFile(source);
  const name = hashed(basename(source), bytes);
  await writeFile(join(assets, name), bytes);
  return `/assets/${name}`;
}

function page({ title, script, style, icon, description }) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="${description}">
<meta name="color-scheme" content="dark light">
<title>${title}</title>
<link rel="icon" href="${icon}" type="image/svg+xml">
<link rel="stylesheet" href="${style}">
<script type="module" src="${script}"></script>
</head>
<body>
<noscript><p>Kenshō needs JavaScript to show its catalog.</p></noscript>
<div id="app"></div>
</body>
</html>
`;
}

async function build(out) {
  await rm(out, { recursive: true, force: true });
  const assets = join(out, "assets");
  await mkdir(assets, { recursive: true });
  const icon = await copyHashed(join(here, "src", "icon.svg"), assets);
  // hls.js transmuxes in a worker only when told where the worker script is (ESM builds).
  const hlsWorker = await copyHashed(
    join(here, "node_modules", "hls.js", "dist", "hls.worker.js"),
    assets,
  );
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: { viewer: "src/viewer/main.js", console: "src/console/main.js" },
    bundle: true,
    splitting: true,
    format: "esm",
    minify: true,
    target: ["es2020", "chrome100", "firefox100", "safari15"],
    outdir: assets,
    entryNames: "[name]-[hash]",
    chunkNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    charset: "utf8",
    legalComments: "eof",
    metafile: true,
    logLevel: "warning",
    define: { HLS_WORKER_URL: JSON.stringify(hlsWorker) },
  });
  const sources = { "src/viewer/main.js": "viewer", "src/console/main.js": "console" };
  const entries = {};
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    const name = sources[meta.entryPoint];
    if (name) {
      entries[name] = {
        script: `/assets/${basename(file)}`,
        style: `/assets/${basename(meta.cssBundle)}`,
      };
    }
  }
  await writeFile(
    join(out, "index.html"),
    page({
      title: "Kenshō",
      description: "Browse, search and watch anime.",
      icon,
      ...entries.viewer,
    }),
  );
  await writeFile(
    join(out, "console.html"),
    page({
      title: "Kenshō operator console",
      description: "The live supervision tree and the admin actions of a Kenshō replica.",
      icon,
      ...entries.console,
    }),
  );
}

async function files(root) {
  const out = new Map();
  async function walk(dir) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(root, path), await readFile(path));
    }
  }
  await walk(root);
  return out;
}

if (check) {
  const scratch = await mkdtemp(join(tmpdir(), "kensho-web-"));
  try {
    await build(scratch);
    const built = await files(scratch);
    const committed = await files(target).catch(() => new Map());
    const differ = [...new Set([...built.keys(), ...committed.keys()])]
      .filter((name) => !(built.get(name) && committed.get(name)?.equals(built.get(name))))
      .sort();
    if (differ.length) {
      console.error(`kensho/http/webapp is not what web/ builds; run \`make web\`:\n  ${differ.join("\n  ")}`);
      process.exit(1);
    }
    console.log(`kensho/http/webapp matches the build (${built.size} files)`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
} else {
  await build(target);
  console.log(`built ${relative(process.cwd(), target) || target}`);
}
