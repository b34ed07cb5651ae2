// Runs one job in the MicroPython WebAssembly port (32-bit words) under
// Node.js, for toolchain/wasm.py. The job comes as JSON on stdin:
//   {"module": path of micropython.mjs, "heapsize": bytes, "pystack": words,
//    "files": [[vm path, host path], ...], "romfs": host path or null,
//    "argv": [...], "cwd": vm path, "code": Python source,
//    "repeat": Python source run again and again, each time as its own
//      top-level call, while the global `_more` is true (at most
//      "max_repeat" times): the port collects garbage only between two
//      top-level calls, so a step-by-step job gets a collection after each,
//    "save": [[vm folder, host folder], ...] copied out after the run}
// The VM's stdout and stderr go to ours; an uncaught Python exception prints
// its traceback on stderr and exits 1, SystemExit(n) exits n.
import fs from "fs";
import path from "path";

const job = JSON.parse(fs.readFileSync(0, "utf8"));
const { loadMicroPython } = await import(job.module);
const out = (s) => process.stdout.write(s);
const err = (s) => process.stderr.write(s);
const mp = await loadMicroPython({
  heapsize: job.heapsize,
  pystack: job.pystack,
  linebuffer: false,
  stdout: (b) => out(b),
  stderr: (b) => err(b),
  romfs: job.romfs ? new Uint8Array(fs.readFileSync(job.romfs)) : undefined,
});

for (const [dest, src] of job.files || []) {
  mp.FS.mkdirTree(path.posix.dirname(dest));
  mp.FS.writeFile(dest, fs.readFileSync(src));
}
if (job.cwd) mp.FS.mkdirTree(job.cwd);

// The job's argv and working directory, set in the VM before its code runs.
const prelude = "import sys, os\nsys.argv[:] = " + JSON.stringify(job.argv || []) +
  "\nos.chdir(" + JSON.stringify(job.cwd || "/") + ")\ndel sys, os\n";
let code = 0;
try {
  mp.runPython(prelude);
  mp.runPython(job.code);
  if (job.repeat) {
    mp.globals.set("_more", true);
    for (let i = 0; mp.globals.get("_more") && i < (job.max_repeat || 100000); i++) mp.runPython(job.repeat);
  }
} catch (e) {
  if (e.name !== "PythonError") throw e;
  if (e.type === "SystemExit") {
    // The exit status is the exception's argument, as in the unix port.
    const m = /SystemExit:\s*(-?\d+)/.exec(e.message);
    code = m ? Number(m[1]) & 255 : 0;
  } else {
    err(e.message.endsWith("\n") ? e.message : e.message + "\n");
    code = 1;
  }
}
// Files the code left (a board's flash after a phase), for the next VM.
function save(src, dest) {
  fs.mkdirSync(dest, { recursive: true });
  for (const name of mp.FS.readdir(src)) {
    if (name === "." || name === "..") continue;
    const from = src.replace(/\/$/, "") + "/" + name;
    if (mp.FS.isDir(mp.FS.stat(from).mode)) save(from, path.join(dest, name));
    else fs.writeFileSync(path.join(dest, name), mp.FS.readFile(from));
  }
}
for (const [src, dest] of job.save || []) save(src, dest);
process.exitCode = code;
