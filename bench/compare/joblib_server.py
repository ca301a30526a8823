"""
The Python side of the ExpOps benchmarks: joblib, measured by its own clock.

Run by bench/compare/python.ts with Debian's /usr/bin/python3 (python3-joblib,
python3-numpy). It reads one JSON command per line on stdin and answers one
JSON line on stdout, so the Node side can alternate joblib's rounds with the
other contenders' rounds in the same run.

Commands:
  {"cmd": "versions"}
  {"cmd": "build_memory", "dir": D, "entries": N}   fill a joblib.Memory with echo(0..N-1)
  {"cmd": "hits", "keys": [i, ...]}                  call echo(i) for each key (all hits);
                                                      median and mean per call, in microseconds
  {"cmd": "make_array", "n": N}                      a float64 array of N elements (sin(i))
  {"cmd": "hash"}                                    seconds for one joblib.hash of that array
  {"cmd": "quit"}
"""
import json
import sys
import time

import joblib
import numpy

state = {"memory": None, "echo": None, "calls": 0, "array": None}


def payload(i):
    # 1 KiB, distinct per entry: the same output the Node contenders store.
    return ("%08d" % i) * 128


def echo(i):
    state["calls"] += 1
    return {"id": i, "payload": payload(i)}


def build_memory(directory, entries):
    memory = joblib.Memory(location=directory, verbose=0)
    cached = memory.cache(echo)
    start = time.perf_counter()
    for i in range(entries):
        cached(i)
    state["memory"] = memory
    state["echo"] = cached
    return {"seconds": time.perf_counter() - start, "computed": state["calls"]}


def hits(keys):
    cached = state["echo"]
    before = state["calls"]
    samples = []
    clock = time.perf_counter_ns
    for key in keys:
        t0 = clock()
        out = cached(key)
        samples.append(clock() - t0)
        if out["id"] != key:
            raise ValueError("wrong output for key %d" % key)
    samples.sort()
    n = len(samples)
    med = samples[n // 2] if n % 2 == 1 else (samples[n // 2 - 1] + samples[n // 2]) / 2
    return {
        "medianUs": med / 1000.0,
        "meanUs": sum(samples) / n / 1000.0,
        "misses": state["calls"] - before,
    }


def make_array(n):
    state["array"] = numpy.sin(numpy.arange(n, dtype=numpy.float64))
    return {"bytes": int(state["array"].nbytes)}


def hash_array():
    start = time.perf_counter()
    digest = joblib.hash(state["array"])
    return {"seconds": time.perf_counter() - start, "digest": digest}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        try:
            cmd = command["cmd"]
            if cmd == "quit":
                break
            elif cmd == "versions":
                answer = {
                    "python": sys.version.split()[0],
                    "joblib": joblib.__version__,
                    "numpy": numpy.__version__,
                }
            elif cmd == "build_memory":
                answer = build_memory(command["dir"], command["entries"])
            elif cmd == "hits":
                answer = hits(command["keys"])
            elif cmd == "make_array":
                answer = make_array(command["n"])
            elif cmd == "hash":
                answer = hash_array()
            else:
                raise ValueError("unknown command %r" % cmd)
            answer["ok"] = True
        except Exception as error:  # reported to the Node side, which names the command
            answer = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
