#!/usr/bin/env bash
# Adds what bench/gpu/traccc.sh needs beyond bench/gpu/make-carry.sh's .gpu-carry (a node binary,
# production node_modules, a pyzmq wheel): the official tritonclient with its dependencies, gRPC
# and HTTP (geventhttpclient and what it needs, for traccc.sh --protocol http), as wheels for the
# device's Python 3.12, in .gpu-carry/whl-traccc (about 20 MB). Run here, with network, after
# `npm run build` and bash bench/gpu/make-carry.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=.gpu-carry/whl-traccc
mkdir -p "$D"
. bench/gpu/lib.sh
exclude_carry
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  "tritonclient==2.73.0" "grpcio==1.85.1" "protobuf==6.33.6" "python-rapidjson==1.25" "ml_dtypes==0.5.4" \
  "packaging==26.3" "geventhttpclient==2.6.1" "gevent==26.9.0" "greenlet==3.3.2" "zope.event==6.2" \
  "zope.interface==8.7" "brotli==1.2.1" "certifi==2026.10.19.post1" "urllib3==2.8.0" -d "$D"
du -sh .gpu-carry "$D"
