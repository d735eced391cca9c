#!/bin/sh
# CORS for the PinShare UI (it calls kubo's RPC API from the browser), as a compose user hands it to the
# ipfs/kubo image: its entrypoint runs every /container-init.d/*.sh as the ipfs user, after `ipfs init` on a
# new repo and before the daemon reads its config, on every start. The same keys as
# examples/offline/pinshare.toml [services.ipfs.kubo_config] (bench/cold_up.py checks that they match).
set -e
ipfs config --json API.HTTPHeaders.Access-Control-Allow-Origin '["http://localhost:5173","http://localhost:5174","http://localhost:3000"]'
ipfs config --json API.HTTPHeaders.Access-Control-Allow-Methods '["GET","POST","PUT"]'
ipfs config --json API.HTTPHeaders.Access-Control-Allow-Headers '["Authorization","Content-Type"]'
ipfs config --json API.HTTPHeaders.Access-Control-Expose-Headers '["Location"]'
ipfs config --json API.HTTPHeaders.Access-Control-Allow-Credentials '["true"]'
