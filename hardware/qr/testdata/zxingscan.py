#!/usr/bin/env python3
"""Time zxing-cpp on raw luma frames, the way hardware/qr decodes them.

Usage: zxingscan.py FRAMES WIDTH HEIGHT PASSES

FRAMES holds the frames back to back, WIDTH*HEIGHT bytes each, 8-bit luma
with no header (as zbarscan.py reads them). Each pass hands every frame, as
a grey numpy array, to zxingcpp.read_barcode restricted to QR codes with
the binding's defaults otherwise (try_rotate, try_downscale, the
LocalAverage binarizer; zxing-cpp's try-harder is on), and times only the
read_barcode calls, with time.perf_counter (wall) and time.process_time (the
process's CPU time) around each: no process start-up, file reading or array
building is counted. It prints JSON: {"pass_seconds": [...],
"pass_cpu_seconds": [...], "texts": [the code's text per frame, "" if
none]}.
Needs Debian's python3-zxing-cpp (and its python3-numpy); used by
TestRobustSet and BenchmarkRobustSet.
"""
import json
import sys
import time

import numpy
import zxingcpp


def main():
    path, width, height, passes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    data = open(path, "rb").read()
    size = width * height
    frames = [numpy.frombuffer(data, dtype=numpy.uint8, count=size, offset=i).reshape(height, width)
              for i in range(0, len(data), size)]
    pass_seconds, pass_cpu_seconds, texts = [], [], []
    for _ in range(passes):
        total, cpu, texts = 0.0, 0.0, []
        for img in frames:
            start, cpu_start = time.perf_counter(), time.process_time()
            res = zxingcpp.read_barcode(img, formats=zxingcpp.BarcodeFormat.QRCode)
            total += time.perf_counter() - start
            cpu += time.process_time() - cpu_start
            texts.append(res.text if res is not None and res.valid else "")
        pass_seconds.append(total)
        pass_cpu_seconds.append(cpu)
    json.dump({"pass_seconds": pass_seconds, "pass_cpu_seconds": pass_cpu_seconds, "texts": texts}, sys.stdout)


if __name__ == "__main__":
    main()
