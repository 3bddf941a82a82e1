# The DingTalk robot as a container: openclaw-skill + libopenclaw_dingtalk.so on Debian bookworm.
#   docker build -t openclaw-dingtalk .
#   docker run -d --name openclaw-dingtalk --env-file openclaw-dingtalk.env \
#     -v openclaw-dingtalk-state:/var/lib/openclaw-dingtalk --stop-timeout 30 openclaw-dingtalk
# The try-it demo needs no configuration: docker run --rm -t openclaw-dingtalk demo
# See docs/deploy.md.

# Stage 1: the release build of the host and the plugin, installed into /out by the same
# script CI uses (deploy/install-layout.sh).
FROM rust:bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p openclaw-dingtalk -p openclaw-skill \
 && deploy/install-layout.sh --no-systemd /out

# Stage 2: the runtime: CA certificates, a non-root user, the installed layout.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /var/lib/openclaw-dingtalk --shell /usr/sbin/nologin openclaw \
 && install -d -o openclaw -g openclaw -m 0700 /var/lib/openclaw-dingtalk
COPY --from=build /out/ /
# The manifest's state_dir (in-flight cards, sessions, learned rates): keep it across restarts.
VOLUME /var/lib/openclaw-dingtalk
USER openclaw
# SIGTERM stops intake and lets replies in flight finish their cards within
# --shutdown-deadline-ms; docker stop waits 10 s before SIGKILL unless told otherwise
# (--stop-timeout / stop_grace_period), so the default deadline here is 8 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/openclaw-skill"]
CMD ["run", "/etc/openclaw-dingtalk/openclaw-skill.yaml", "--shutdown-deadline-ms", "8000"]
