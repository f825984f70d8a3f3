#!/usr/bin/env node
// CIDs from npm `ipfs-unixfs-importer`, an implementation independent of ours and of Kubo's.
//
// Usage: node unixfs_cid.mjs --layout v0|v1|v1-2025 [--chunk BYTES --links N] PATH...
// Prints one line per PATH: `<cid> <seconds>`. A folder is imported with every entry in it,
// hidden ones included (the tests use no hidden names), symbolic links as UnixFS symlinks.
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { BlackHoleBlockstore } from 'blockstore-core/black-hole'
import * as fs from 'node:fs'
import * as path from 'node:path'

const LAYOUTS = {
  // Kubo's default: CIDv0, dag-pb ("file") leaves, 256 KiB, 174 links, HAMT by names + CIDs.
  v0: { cidVersion: 0, rawLeaves: false, leafType: 'file', chunk: 262144, links: 174, shardSplitStrategy: 'links-bytes' },
  // ipfs add --cid-version=1: raw leaves, otherwise as v0.
  v1: { cidVersion: 1, rawLeaves: true, chunk: 262144, links: 174, shardSplitStrategy: 'links-bytes' },
  // IPIP-499 unixfs-v1-2025: 1 MiB, 1024 links, HAMT by exact block bytes.
  'v1-2025': { cidVersion: 1, rawLeaves: true, chunk: 1048576, links: 1024, shardSplitStrategy: 'block-bytes' }
}

function usage (msg) {
  console.error(msg)
  console.error('usage: node unixfs_cid.mjs --layout v0|v1|v1-2025 [--chunk BYTES --links N] PATH...')
  process.exit(2)
}

const args = process.argv.slice(2)
let layoutName = 'v0'
let chunk
let links
const paths = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--layout') layoutName = args[++i]
  else if (args[i] === '--chunk') chunk = Number(args[++i])
  else if (args[i] === '--links') links = Number(args[++i])
  else paths.push(args[i])
}
const layout = LAYOUTS[layoutName]
if (layout == null) usage(`unknown layout ${layoutName}`)
if (paths.length === 0) usage('no path given')

function * candidates (root) {
  const base = path.basename(root)
  const st = fs.lstatSync(root)
  if (!st.isDirectory()) {
    yield { path: base, content: fs.createReadStream(root, { highWaterMark: 1 << 20 }) }
    return
  }
  function * walk (abs, rel) {
    const names = fs.readdirSync(abs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    if (names.length === 0) yield { path: rel }
    for (const name of names) {
      const childAbs = path.join(abs, name)
      const childRel = `${rel}/${name}`
      const cst = fs.lstatSync(childAbs)
      if (cst.isSymbolicLink()) yield { path: childRel, link: fs.readlinkSync(childAbs) }
      else if (cst.isDirectory()) yield * walk(childAbs, childRel)
      else yield { path: childRel, content: fs.createReadStream(childAbs, { highWaterMark: 1 << 20 }) }
    }
  }
  yield * walk(root, base)
}

const options = {
  cidVersion: layout.cidVersion,
  rawLeaves: layout.rawLeaves,
  leafType: layout.leafType ?? 'file',
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: chunk ?? layout.chunk }),
  layout: balanced({ maxChildrenPerNode: links ?? layout.links }),
  shardSplitThresholdBytes: 262144,
  shardSplitStrategy: layout.shardSplitStrategy,
  shardFanoutBits: 8,
  wrapWithDirectory: false
}

for (const p of paths) {
  const start = process.hrtime.bigint()
  let last
  for await (const entry of importer(candidates(p), new BlackHoleBlockstore(), options)) {
    last = entry
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9
  console.log(`${last.cid.toString()} ${secs.toFixed(6)}`)
}
