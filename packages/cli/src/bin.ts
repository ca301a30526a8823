#!/usr/bin/env node
console.log("expops: not yet implemented")
process.exitCode = 2
