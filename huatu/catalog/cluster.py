"""Texts about running generation on a Ray cluster (``--backend ray``)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "ray_detail": (
        "Ray Serve, {replicas} of {wanted} replicas up ({where}); each runs {detail}",
        "Ray Serve，{wanted} 个副本中 {replicas} 个在运行（{where}）；每个副本：{detail}",
    ),
    "ray_local_cluster": ("a Ray instance started on this machine", "本机启动的 Ray 实例"),
    "ray_cluster_at": ("the cluster at {address}", "集群 {address}"),
    "ray_unreachable": (
        (
            "The Ray cluster at {address} cannot be reached ({kind}); generation is off until it "
            "can. Check the address (auto, or ray://HOST:10001) and that the cluster is running."
        ),
        (
            "无法连接 Ray 集群 {address}（{kind}），连上之前无法生成。请检查地址（auto 或 "
            "ray://HOST:10001）以及集群是否在运行。"
        ),
    ),
    "ray_deploy_failed": (
        "The replicas could not load {model} on the Ray cluster ({kind}: {reason}).",
        "Ray 集群上的副本无法加载 {model}（{kind}：{reason}）。",
    ),
    "ray_replica_lost": (
        (
            "The replica running this image stopped ({kind}) and a second try failed too; the "
            "image was not made. Ray Serve starts a new replica: try again shortly."
        ),
        (
            "正在生成这张图的副本停止了（{kind}），重试一次也失败了，图片没有生成。"
            "Ray Serve 会启动新副本，请稍后再试。"
        ),
    ),
    "cli_replicas_conflict": (
        "Give either --replicas N or --min-replicas/--max-replicas, not both.",
        "请只给 --replicas N，或 --min-replicas/--max-replicas，不要同时给。",
    ),
    "cli_replicas_range": (
        "--min-replicas ({low}) cannot be more than --max-replicas ({high}).",
        "--min-replicas（{low}）不能大于 --max-replicas（{high}）。",
    ),
    "ray_deadline": (
        "No replica finished this image within {seconds} s; it was stopped.",
        "{seconds} 秒内没有副本完成这张图，已停止。",
    ),
    "ray_lost": (
        (
            "The Ray cluster at {address} is not answering, so nothing can be generated now; "
            "huatu connects again by itself once it is back."
        ),
        "Ray 集群 {address} 没有响应，暂时无法生成；集群恢复后 huatu 会自动重新连接。",
    ),
    "ray_replica_model": (
        (
            "A replica still runs {found}, not {model}, so this image was not kept; the model "
            "switch is still reaching the replicas: try again in a moment."
        ),
        (
            "有副本仍在运行 {found}，而不是 {model}，所以这张图没有保留；"
            "模型切换还在传到各副本，请稍后再试。"
        ),
    ),
    "ray_replica_error": (
        "The replica failed while making this image ({problem}).",
        "副本生成这张图时出错（{problem}）。",
    ),
}
