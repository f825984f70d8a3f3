#!/usr/bin/env node
// Reads a CAR with npm `@ipld/car` (an independent reader), re-hashes every block and prints
// `<root> <blocks> <bad>` (bad = blocks whose bytes do not hash to their CID).
import { CarReader } from '@ipld/car/reader'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as fs from 'node:fs'

const [path] = process.argv.slice(2)
if (!path) {
  console.error('usage: node car_check.mjs FILE.car')
  process.exit(2)
}
const reader = await CarReader.fromIterable(fs.createReadStream(path))
const roots = await reader.getRoots()
let blocks = 0
let bad = 0
for await (const { cid, bytes } of reader.blocks()) {
  blocks++
  const hasher = cid.multihash.code === identity.code ? identity : sha256
  const digest = await hasher.digest(bytes)
  if (Buffer.compare(Buffer.from(digest.digest), Buffer.from(cid.multihash.digest)) !== 0) bad++
}
console.log(`${roots.map(String).join(',')} ${blocks} ${bad}`)
