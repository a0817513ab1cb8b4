// Texts of the Blend web chat widget (blend-chat.js) in English, Korean and Simplified Chinese.
// A classic script (the widget is embedded in other sites' pages, where modules may not be
// allowed): it defines window.BlendChatI18n = { catalogs, pick(languages) }. pick() takes
// navigator.languages and returns the catalog of the first supported language ("ko-KR" -> ko,
// "zh", "zh-CN", "zh-Hans-*" -> zh-CN), English otherwise.
(function () {
  "use strict";
  const catalogs = {
    en: {
      launcher: "Chat with us",
      title: "Chat with us",
      close: "Close chat",
      online: "We are online",
      offline: "We are away",
      reconnecting: "Reconnecting…",
      name: "Name",
      email: "Email (optional)",
      topic: "What is it about? (optional)",
      start: "Start chat",
      prechat_intro: "Tell us who you are and an agent will be with you shortly.",
      offline_intro: "Nobody is available right now. Leave a message and we will answer as soon as we can.",
      offline_message: "Your message",
      offline_send: "Leave message",
      offline_sent: "Thank you, your message was received. An agent will answer it.",
      placeholder: "Type a message…",
      send: "Send",
      end: "End chat",
      you: "You",
      agent: "Agent",
      queued: "Waiting for an agent — you are number {position} in line.",
      connected: "You are chatting with {agent}.",
      ended: "The chat has ended.",
      typing: "{agent} is typing…",
      sending: "sending",
      sent: "sent",
      read: "read",
      rate: "How was this chat?",
      star: "{n} of 5 stars",
      rated: "Thank you for your rating.",
      new_chat: "Start a new chat",
      error_rate_limited: "You are sending messages too quickly; it will be sent in a moment.",
      error_too_long: "This message is too long (4000 characters at most).",
      error_generic: "Something went wrong: {message}",
    },
    ko: {
      launcher: "채팅 상담",
      title: "채팅 상담",
      close: "채팅 닫기",
      online: "상담 가능",
      offline: "상담 시간이 아닙니다",
      reconnecting: "다시 연결하는 중…",
      name: "이름",
      email: "이메일 (선택)",
      topic: "문의 내용 (선택)",
      start: "채팅 시작",
      prechat_intro: "성함을 알려 주시면 곧 상담원이 연결됩니다.",
      offline_intro: "지금은 상담원이 없습니다. 메시지를 남겨 주시면 최대한 빨리 답변드리겠습니다.",
      offline_message: "메시지",
      offline_send: "메시지 남기기",
      offline_sent: "감사합니다. 메시지가 접수되었습니다. 상담원이 답변드리겠습니다.",
      placeholder: "메시지를 입력하세요…",
      send: "보내기",
      end: "채팅 종료",
      you: "나",
      agent: "상담원",
      queued: "상담원을 기다리는 중입니다 — 대기 순번 {position}번.",
      connected: "{agent} 상담원과 채팅 중입니다.",
      ended: "채팅이 종료되었습니다.",
      typing: "{agent} 상담원이 입력 중…",
      sending: "보내는 중",
      sent: "전송됨",
      read: "읽음",
      rate: "상담은 어떠셨나요?",
      star: "5점 중 {n}점",
      rated: "평가해 주셔서 감사합니다.",
      new_chat: "새 채팅 시작",
      error_rate_limited: "메시지를 너무 빨리 보내고 있습니다. 잠시 후 전송됩니다.",
      error_too_long: "메시지가 너무 깁니다 (최대 4000자).",
      error_generic: "문제가 발생했습니다: {message}",
    },
    "zh-CN": {
      launcher: "在线咨询",
      title: "在线咨询",
      close: "关闭聊天",
      online: "客服在线",
      offline: "客服暂时不在",
      reconnecting: "正在重新连接…",
      name: "姓名",
      email: "电子邮件（可选）",
      topic: "咨询内容（可选）",
      start: "开始聊天",
      prechat_intro: "请告诉我们您的姓名，客服马上为您服务。",
      offline_intro: "现在没有客服在线。请留言，我们会尽快回复。",
      offline_message: "留言内容",
      offline_send: "提交留言",
      offline_sent: "谢谢，我们已收到您的留言，客服会尽快回复。",
      placeholder: "输入消息…",
      send: "发送",
      end: "结束聊天",
      you: "我",
      agent: "客服",
      queued: "正在等待客服 — 您前面排第 {position} 位。",
      connected: "正在与 {agent} 聊天。",
      ended: "聊天已结束。",
      typing: "{agent} 正在输入…",
      sending: "发送中",
      sent: "已发送",
      read: "已读",
      rate: "您对本次服务满意吗？",
      star: "{n} 星（满分 5 星）",
      rated: "感谢您的评价。",
      new_chat: "开始新的聊天",
      error_rate_limited: "发送太快了，稍后会自动发送。",
      error_too_long: "消息太长（最多 4000 个字符）。",
      error_generic: "出现问题：{message}",
    },
  };

  function pick(languages) {
    for (const raw of languages || []) {
      const tag = String(raw).toLowerCase();
      if (tag === "ko" || tag.startsWith("ko-")) return catalogs.ko;
      if (tag === "zh" || tag === "zh-cn" || tag === "zh-sg" || tag.startsWith("zh-hans")) {
        return catalogs["zh-CN"];
      }
      if (tag === "en" || tag.startsWith("en-")) return catalogs.en;
    }
    return catalogs.en;
  }

  window.BlendChatI18n = { catalogs, pick };
})();
