"""Everything nemobot says to users, in English and Chinese.

Texts are plain (adapters escape them for their markup). Keys are stable; ``t()`` falls
back to English for a missing translation.
"""

from __future__ import annotations

ACCEPTED_FORMATS = {
    "video": ("mp4", "mov", "avi", "webm", "mkv"),
    "image": ("jpg", "jpeg", "png", "gif", "webp"),
    "audio": ("mp3", "wav", "m4a", "aac"),
}
"""Upload formats (contract section 8)."""

FORMATS_LINE = "video: mp4, mov, avi, webm, mkv; image: jpg, jpeg, png, gif, webp; audio: mp3, wav, m4a, aac"

_EN: dict[str, str] = {
    "working": "🎬 Working on it...",
    "stage_generate": "🎥 Generating video (this usually takes 2-5 minutes)...",
    "stage_music": "🎵 Making the music (1-2 minutes)...",
    "stage_edit": "✂️ Editing the timeline...",
    "stage_analysis": "🔍 Analysing your footage...",
    "stage_other": "⚙️ Working ({tool})...",
    "still_working": "⏳ Still working... ({elapsed})",
    "done_in": "✅ Done in {elapsed}.",
    "failed_in": "⚠️ Stopped after {elapsed}.",
    "queued": "⏳ I'm still on your previous request; I'll do this right after it.",
    "silent_changes": "Done. Here is what changed:\n{changes}",
    "silent_nothing": "The editor finished but nothing changed in the timeline. Try describing the edit differently.",
    "hint_export": "Say /export when you want the video.",
    "hint_edit": "Tell me what to move or change and I'll do it.",
    "empty_message": 'I got an empty message. Send a clip, or tell me what to do, e.g. "{example}".',
    "unknown_command": "I don't know /{name}. Try /help.",
    "too_long": "That message is too long ({n} characters; the limit is {limit}). Please shorten it.",
    "need_session": "There is no project yet. Send a clip to start one.",
    "not_ready": 'Nothing to export yet: the timeline is empty. Send a clip and ask for an edit first, e.g. "{example}".',
    "render_busy": "A render of this project is already running; I'll post the video when it's done.",
    "rendering": "🎞️ Rendering...",
    "rendering_pct": "🎞️ Rendering... {pct}%",
    "render_retry": "🎞️ The first render failed; trying once more...",
    "render_done": "✅ Rendered in {elapsed}.",
    "render_ready_file": "✅ Video ready ({details}).",
    "render_ready_link": "✅ Video ready ({details}), too large to send here ({size} > {limit}). Download it: {url}",
    "render_ready_web": "✅ Video ready ({details}), too large to send here ({size} > {limit}). Open the project to download it: {url}",
    "project_link": "Open the project in the web editor: {url}",
    "render_failed": "❌ The render failed twice ({error}). Your timeline is unchanged; try /export again in a minute.",
    "render_timeout": "⏱️ The render is taking much longer than usual. Try /export again later.",
    "platform_download_limit": "{name} is {size}: {platform} only lets bots download files up to {limit}. Send a link to the video instead (a direct http(s) link), or trim it and send it again.",
    "fetch_failed": "I couldn't fetch {names} from the chat. Nothing was uploaded; please send it again.",
    "not_your_project": "Only people in this project's thread can use these buttons. Mention me with a clip to start your own.",
    "nothing_to_cancel": "Nothing is running right now.",
    "cancelled": "⏹️ Stopped. {dropped} queued message(s) dropped. An edit the editor already started may still land; check /status.",
    "run_cancelled": "⏹️ Stopped waiting for the editor.",
    "render_cancelled": "⏹️ Render cancelled.",
    "interrupted": "⚠️ Interrupted by a restart of the bot.",
    "run_interrupted_changed": 'I restarted while working on "{request}". I did not send it again; the editor got this far:\n{changes}',
    "run_interrupted_nothing": 'I restarted while working on "{request}" and nothing changed in the timeline. I did not send it again: send it once more if you want me to retry.',
    "queued_file_lost": "A file you sent while I was busy was lost when I restarted; please send it again.",
    "upload_how": "Send the clip as an attachment (video, image or audio) and I'll add it to the project. I accept {formats}.",
    "uploaded": "📥 Added {files}.",
    "upload_next": 'Now tell me what to do, e.g. "{example}".',
    "unsupported_files": "I can't use {names}: unsupported file type. I accept {formats}.",
    "empty_file": "{name} is empty (0 bytes). Please send the file again.",
    "too_large_file": "{name} is {size}, over the {limit} limit. Trim it or compress it (e.g. 1080p, a lower bitrate) and send it again.",
    "backend_unsupported": "NemoVideo could not read {names}: it is not a supported or valid media file. I accept {formats}.",
    "backend_too_large": "NemoVideo refused the file as too large. Trim or compress it and send it again.",
    "credits": "💳 Credits: {available} available, {frozen} frozen, {total} total.",
    "status_head": "📋 {summary}",
    "status_assets": "Assets: {assets}",
    "status_no_assets": "No clips uploaded yet.",
    "status_render": "Last render: {status}.",
    "new_session": "🆕 Started a new project. Send a clip to begin.",
    "session_lost": "Your previous project expired on NemoVideo, so I started a new one: the old timeline is gone. Please send your clip again.",
    "skill_set": '🎛️ Switched to {title} ({name}). Try: "{example}"',
    "skill_unknown": 'Unknown skill "{name}". Choose one of: {names}.',
    "skill_list": "Current skill: {name}. Available: {names}. Switch with /skill NAME.",
    "help": (
        "🎬 {title}: {summary}\n\nTry saying:\n{examples}\n\nTips:\n{tips}\n\n"
        "Commands: /export render and send the video, /status timeline and assets, /credits balance, "
        "/link web-editor link, /new fresh project, /skill switch profile, /cancel stop the current job, /help this text."
    ),
    "start": "👋 Hi! I edit videos with NemoVideo. Send me a clip and tell me what to do.",
    "out_of_credits_anon": "You're out of free credits. Register to get more (your work is kept): {url}",
    "out_of_credits": "You're out of credits. Top up your NemoVideo account to continue: {url}",
    "free_plan": "Exporting is blocked on the free plan. Register to export (your work is kept): {url}",
    "rate_limited": "NemoVideo is busy right now. Please try again in a minute.",
    "auth_failed": "I couldn't sign in to NemoVideo. Please try again in a minute; if it keeps happening, tell the bot's admin.",
    "backend_down": "NemoVideo is not reachable right now. Nothing was lost; please try again in a minute.",
    "backend_error": "NemoVideo had a problem with that ({detail}). Nothing was lost; please try again.",
    "agent_failed": "The editor couldn't finish that request. Your timeline is unchanged; try rephrasing it, or /status to see where things are.",
    "agent_timeout": "The editor has been silent for too long, so I stopped waiting. I'll not resend your message; check /status in a minute, then try again if needed.",
    "stream_dropped_wait": "📡 Lost the connection to the editor. It may still be working, so I'm not resending your message; checking the project...",
    "stream_dropped_changed": "The editor finished after the connection dropped. Here is what changed:\n{changes}",
    "stream_dropped_nothing": "The connection to the editor dropped and nothing changed in the timeline. Send your request again if you want me to retry.",
    "internal_error": "Something went wrong on my side. Nothing was lost; please try again.",
    "link_failed": "I couldn't get the project link right now; please try /link again later.",
}

_ZH: dict[str, str] = {
    "working": "🎬 正在处理...",
    "stage_generate": "🎥 正在生成视频（通常需要 2-5 分钟）...",
    "stage_music": "🎵 正在制作音乐（1-2 分钟）...",
    "stage_edit": "✂️ 正在编辑时间线...",
    "stage_analysis": "🔍 正在分析素材...",
    "stage_other": "⚙️ 处理中（{tool}）...",
    "still_working": "⏳ 仍在处理...（{elapsed}）",
    "done_in": "✅ 完成，用时 {elapsed}。",
    "failed_in": "⚠️ {elapsed} 后停止。",
    "queued": "⏳ 上一个请求还在处理中，完成后马上处理这条。",
    "silent_changes": "完成。变更如下：\n{changes}",
    "silent_nothing": "编辑完成，但时间线没有变化。请换个说法描述你的修改。",
    "hint_export": "需要视频时发送 /export。",
    "hint_edit": "告诉我要移动或修改什么，我来处理。",
    "empty_message": "收到一条空消息。请发送视频，或告诉我要做什么，例如“{example}”。",
    "unknown_command": "我不认识 /{name}。试试 /help。",
    "too_long": "消息太长（{n} 个字符，上限 {limit}）。请缩短后再发。",
    "need_session": "还没有项目。发送一个视频开始吧。",
    "not_ready": "还没有可导出的内容：时间线是空的。请先发送视频并提出修改，例如“{example}”。",
    "render_busy": "这个项目正在渲染，完成后我会发送视频。",
    "rendering": "🎞️ 正在渲染...",
    "rendering_pct": "🎞️ 正在渲染... {pct}%",
    "render_retry": "🎞️ 第一次渲染失败，正在重试...",
    "render_done": "✅ 渲染完成，用时 {elapsed}。",
    "render_ready_file": "✅ 视频已就绪（{details}）。",
    "render_ready_link": "✅ 视频已就绪（{details}），文件太大无法在这里发送（{size} > {limit}）。下载：{url}",
    "render_ready_web": "✅ 视频已就绪（{details}），文件太大无法在这里发送（{size} > {limit}）。打开项目下载：{url}",
    "project_link": "在网页编辑器中打开项目：{url}",
    "render_failed": "❌ 渲染两次失败（{error}）。时间线未改变，请稍后再试 /export。",
    "render_timeout": "⏱️ 渲染时间比平常长很多，请稍后再试 /export。",
    "platform_download_limit": "{name} 大小为 {size}：{platform} 只允许机器人下载 {limit} 以内的文件。请改发视频链接（http(s) 直链），或剪短后再发。",
    "fetch_failed": "无法从聊天中获取 {names}，没有上传任何内容，请重新发送。",
    "not_your_project": "只有这个项目讨论串里的成员可以使用这些按钮。@我并附上视频即可开始你自己的项目。",
    "nothing_to_cancel": "当前没有正在进行的任务。",
    "cancelled": "⏹️ 已停止，丢弃了 {dropped} 条排队消息。编辑器已开始的修改可能仍会生效，请用 /status 查看。",
    "run_cancelled": "⏹️ 已停止等待编辑器。",
    "render_cancelled": "⏹️ 渲染已取消。",
    "interrupted": "⚠️ 机器人重启，任务被中断。",
    "run_interrupted_changed": "处理“{request}”时我重启了。我没有重新发送；编辑器已完成：\n{changes}",
    "run_interrupted_nothing": "处理“{request}”时我重启了，时间线没有变化。我没有重新发送：如需重试请再发一次。",
    "queued_file_lost": "我重启时丢失了你在排队期间发送的文件，请重新发送。",
    "upload_how": "把视频（或图片、音频）作为附件发给我，我会加入项目。支持：{formats}。",
    "help": (
        "🎬 {title}：{summary}\n\n可以这样说：\n{examples}\n\n提示：\n{tips}\n\n"
        "命令：/export 渲染并发送视频，/status 时间线和素材，/credits 积分，/link 网页编辑器链接，"
        "/new 新项目，/skill 切换技能，/cancel 停止当前任务，/help 帮助。"
    ),
    "uploaded": "📥 已添加 {files}。",
    "upload_next": "现在告诉我要做什么，例如“{example}”。",
    "unsupported_files": "无法使用 {names}：不支持的文件类型。支持：{formats}。",
    "empty_file": "{name} 是空文件（0 字节），请重新发送。",
    "too_large_file": "{name} 大小为 {size}，超过 {limit} 上限。请剪短或压缩（例如 1080p、降低码率）后再发。",
    "backend_unsupported": "NemoVideo 无法读取 {names}：不是受支持或有效的媒体文件。支持：{formats}。",
    "backend_too_large": "NemoVideo 认为文件太大。请剪短或压缩后再发。",
    "credits": "💳 积分：可用 {available}，冻结 {frozen}，总计 {total}。",
    "status_head": "📋 {summary}",
    "status_assets": "素材：{assets}",
    "status_no_assets": "还没有上传视频。",
    "status_render": "最近一次渲染：{status}。",
    "new_session": "🆕 已开始新项目。发送视频开始吧。",
    "session_lost": "之前的项目在 NemoVideo 上已过期，已为你新建项目：旧的时间线已丢失。请重新发送视频。",
    "skill_set": "🎛️ 已切换到 {title}（{name}）。试试：“{example}”",
    "skill_unknown": "未知技能“{name}”。可选：{names}。",
    "skill_list": "当前技能：{name}。可选：{names}。用 /skill 名称 切换。",
    "start": "👋 你好！我用 NemoVideo 剪辑视频。发送视频并告诉我要做什么。",
    "out_of_credits_anon": "免费积分已用完。注册即可获得更多（作品会保留）：{url}",
    "out_of_credits": "积分已用完。请为 NemoVideo 账户充值：{url}",
    "free_plan": "免费版无法导出。注册后即可导出（作品会保留）：{url}",
    "rate_limited": "NemoVideo 当前繁忙，请一分钟后再试。",
    "auth_failed": "无法登录 NemoVideo。请稍后再试；如果一直这样，请联系管理员。",
    "backend_down": "暂时无法连接 NemoVideo。没有丢失任何内容，请稍后再试。",
    "backend_error": "NemoVideo 处理出错（{detail}）。没有丢失任何内容，请再试一次。",
    "agent_failed": "编辑器无法完成这个请求。时间线未改变；请换个说法，或用 /status 查看当前状态。",
    "agent_timeout": "编辑器太久没有回应，我已停止等待，不会重复发送你的消息。请一分钟后用 /status 查看，需要时再试。",
    "stream_dropped_wait": "📡 与编辑器的连接断开了。它可能仍在处理，所以我不会重发消息；正在检查项目...",
    "stream_dropped_changed": "连接断开后编辑器完成了处理。变更如下：\n{changes}",
    "stream_dropped_nothing": "与编辑器的连接断开，时间线没有变化。如需重试请再次发送请求。",
    "internal_error": "我这边出了点问题。没有丢失任何内容，请再试一次。",
    "link_failed": "暂时无法获取项目链接，请稍后再试 /link。",
}

_CATALOGS = {"en": _EN, "zh": _ZH}


def lang_of(locale: str | None) -> str:
    """The catalog for a locale: ``zh*`` -> ``zh``, anything else -> ``en``."""
    return "zh" if (locale or "").lower().startswith("zh") else "en"


def session_language(locale: str | None) -> str:
    """The NemoVideo session language for a locale (contract endpoint 2): ``zh-CN``, ``ja``, ``en``..."""
    if not locale:
        return "en"
    low = locale.replace("_", "-").lower()
    if low.startswith("zh"):
        return "zh-TW" if low in {"zh-tw", "zh-hk", "zh-hant"} else "zh-CN"
    return low.split("-")[0] or "en"


def t(key: str, lang: str = "en", **values: object) -> str:
    """The text ``key`` in ``lang`` with ``values`` filled in."""
    template = _CATALOGS.get(lang, _EN).get(key) or _EN[key]
    return template.format(**values) if values else template


def fmt_size(size: int | float) -> str:
    """Bytes for people: ``2.1 MB``, ``512 KB`` (1 MB = 1024 * 1024 bytes)."""
    if size >= 1024 * 1024:
        mb = size / (1024 * 1024)
        text = f"{mb:.0f}" if mb >= 100 else f"{mb:.1f}".removesuffix(".0")
        return f"{text} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{int(size)} bytes"


def fmt_elapsed(seconds: float) -> str:
    """Seconds for people: ``12 s``, ``2 min 5 s``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
