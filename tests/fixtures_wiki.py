"""A deterministic corpus of Chinese support / operations knowledge pages, for search tests and benchmarks.

``make_pages(n, seed)`` returns ``n`` pages: the hand-written TARGET pages (whose expected rank the tests
assert) plus generated pages built from topic templates, with seeded randomness so that the same arguments
always give the same corpus. Generated pages deliberately share vocabulary with the targets (数据库, 连接,
403, VPN, 权限, 线缆 …) so that ranking is actually tested. ``Page.markdown()`` gives the file as
``wiki/**/*.md`` would hold it (front matter + body).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sopflow.core.search import Doc

SEED = 20261101


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    tags: tuple[str, ...]
    body: str

    def doc(self) -> Doc:
        return Doc(self.key, self.title, self.body, self.tags)

    def markdown(self) -> str:
        tags = ", ".join(self.tags)
        return f"---\ntitle: {self.title}\ntags: [{tags}]\nowner: fan\n---\n{self.body}"


# ------------------------------------------------------------------------------------- target pages

TARGETS: tuple[Page, ...] = (
    Page(
        "wiki/faq/login-403.md",
        "登录报错403排查",
        ("登录", "权限"),
        """## 故障现象
- 用户登录门户网站后跳转首页时报错 HTTP 403 Forbidden
- 同一账号在 VPN 外网环境可正常登录，内网失败
- 浏览器控制台可见 `GET /api/v2/session 403`

## 排查步骤
1. 确认账号状态：在 IAM 控制台搜索用户，确认未被锁定、未过期
2. 检查角色绑定：用户是否拥有 portal-user 角色，缺失则按《权限开通流程》申请
3. 查看网关日志：`grep 403 /var/log/nginx/access.log | tail -50`
4. 若日志显示 WAF 拦截（rule id 942100），联系安全组加白
5. 清除浏览器 Cookie 后重试，排除旧 Session 导致的 403

## 修复
- 缺少角色：由管理员补充 portal-user 角色后重新登录
- WAF 误拦：提交安全例外申请，附上请求样例
- Session 异常：执行 `sopflow do ISS-7 解决 --note 清理会话`

## 预防
- 新员工入职时同步开通 portal-user 角色
- 每月审计一次 WAF 误拦规则
""",
    ),
    Page(
        "wiki/faq/db-timeout.md",
        "数据库连接超时",
        ("数据库", "MySQL"),
        """## 故障现象
- 订单服务日志大量出现 `Communications link failure` 与 `connection timeout`
- 高峰期接口响应超过 5s，部分请求返回 500

## 排查步骤
1. 排查数据库连接超时问题：先确认连接池配置 max_pool_size 与 wait_timeout
2. 在 MySQL 执行 `show processlist`，观察是否存在长时间 Sleep 的连接
3. 检查 max_connections 是否已满：`show status like 'Threads_connected'`
4. 确认应用与数据库之间的安全组、防火墙没有丢弃空闲连接
5. 查看慢查询日志，确认是否因锁等待导致连接被占满

## 修复
- 调整连接池：max_pool_size 从 20 调整到 50，idle_timeout 小于 wait_timeout
- 对长事务加超时控制，必要时 kill 阻塞会话
- 如为网络设备回收空闲连接，开启 TCP keepalive

## 预防
- 监控平台增加 Threads_connected 告警，阈值 80%
- 发布前压测连接池参数
""",
    ),
    Page(
        "wiki/hardware/cable.md",
        "线缆类问题排查",
        ("硬件", "线缆"),
        """## 故障现象
- 机房服务器网口指示灯闪烁或不亮，链路频繁 up/down
- 交换机端口出现大量 CRC 错误，业务偶发丢包

## 排查步骤
1. 记录时间、局点、设备型号，关联工单 ISS-12
2. 观察网口指示灯，确认光模块与线缆型号匹配（单模/多模）
3. 使用测线仪检测网线通断，必要时更换同规格线缆交叉验证
4. 检查光纤弯折半径与接头清洁度，使用光功率计测量收光
5. 判断是否为典型问题，是则在 Buglist 中登记

## 修复
- 更换损坏的网线或光纤跳线，并贴好标签
- 光模块故障时申请备件更换

## 预防
- 布线时遵守最小弯折半径，线缆两端统一标签
- 每季度巡检一次机房线缆与光模块
""",
    ),
    Page(
        "wiki/network/vpn.md",
        "VPN 断网",
        ("网络", "VPN"),
        """## 故障现象
- 员工连接公司 VPN 后每隔 10 分钟断网一次，需要重新拨号
- 断网后本地 Wi-Fi 正常，只有 VPN 隧道中断

## 排查步骤
1. 确认客户端版本，旧版 AnyConnect 4.8 存在 DPD 超时缺陷
2. 查看客户端日志中的 `DPD timeout` 与 `tunnel down` 记录
3. 检查本地网络 MTU，建议设置为 1400 后重试
4. 在 VPN 网关确认该用户的会话是否被 idle-timeout 策略踢下线

## 修复
- 升级客户端至 5.0 以上版本
- 网关将 idle-timeout 从 10 分钟调整为 60 分钟

## 预防
- 新版本客户端统一通过软件中心推送
""",
    ),
    Page(
        "wiki/process/access-request.md",
        "权限开通流程",
        ("权限", "流程"),
        """## 适用范围
- 新员工入职、转岗、临时项目需要开通系统权限

## 流程
1. 申请人在工单系统提交权限申请，写明系统、角色与期限
2. 直属主管审批，确认最小权限原则
3. 系统管理员开通权限，并在工单中记录开通的角色
4. 申请人验证可以正常访问后关闭工单

## 注意事项
- 生产环境权限需要安全组二次审批
- 临时权限到期后由系统自动回收
""",
    ),
    Page(
        "wiki/app/nginx-502.md",
        "Nginx 502 Bad Gateway 排查",
        ("网关", "Nginx"),
        """## 故障现象
- 访问 API 网关返回 502 Bad Gateway，错误率超过 5%

## 排查步骤
1. 查看 Nginx error.log 中的 `upstream prematurely closed connection`
2. 确认 upstream 服务进程是否存活，端口是否监听
3. 检查 proxy_read_timeout 与后端处理时长是否匹配
4. 检查 keepalive 连接数是否耗尽

## 修复
- 重启异常的 upstream 实例，并摘除不健康节点
- 调大 proxy_read_timeout 至 60s

## 预防
- 给 upstream 配置健康检查
""",
    ),
    Page(
        "wiki/ops/disk-full.md",
        "磁盘空间不足告警处理",
        ("存储", "告警"),
        """## 故障现象
- 监控平台告警：/data 分区使用率超过 90%（disk usage high）
- 应用写日志失败，出现 `No space left on device`

## 排查步骤
1. 执行 `df -h` 确认使用率最高的分区
2. 执行 `du -sh /data/* | sort -h` 找出占用最大的目录
3. 检查是否有被删除但仍被进程占用的文件：`lsof | grep deleted`

## 修复
- 清理过期日志，配置 logrotate 按天切割并保留 7 天
- 必要时在线扩容云盘

## 预防
- 磁盘使用率 80% 预警，90% 严重告警
""",
    ),
    Page(
        "wiki/app/oom.md",
        "Java 内存溢出 OOM 排查",
        ("性能", "Java"),
        """## 故障现象
- 报表平台进程频繁重启，日志出现 `java.lang.OutOfMemoryError: Java heap space`

## 排查步骤
1. 使用 jmap 导出 heap dump，或开启 -XX:+HeapDumpOnOutOfMemoryError
2. 用 MAT 分析大对象，定位内存泄漏的代码
3. 对比 GC 日志，确认 Full GC 频率

## 修复
- 修复缓存未设置上限导致的内存泄漏
- 将 -Xmx 从 2g 调整为 4g 作为临时措施

## 预防
- 上线前做 8 小时稳定性压测
""",
    ),
    Page(
        "wiki/app/cert-expired.md",
        "SSL 证书过期导致 HTTPS 访问失败",
        ("安全", "证书"),
        """## 故障现象
- 用户访问会员中心提示“您的连接不是私密连接”，错误码 NET::ERR_CERT_DATE_INVALID

## 排查步骤
1. 执行 `openssl s_client -connect host:443` 查看证书有效期
2. 确认负载均衡与源站是否使用同一张证书

## 修复
- 在证书平台续签并重新部署到负载均衡

## 预防
- 证书到期前 30 天自动告警
""",
    ),
    Page(
        "wiki/app/smtp-550.md",
        "邮件发送失败 SMTP 550",
        ("邮件", "应用报错"),
        """## 故障现象
- 通知邮件发送失败，日志显示 `550 5.7.1 Relaying denied`

## 排查步骤
1. 确认发件服务器 IP 是否在邮件网关的白名单中
2. 检查 SPF 与 DKIM 记录是否正确

## 修复
- 将应用服务器 IP 加入邮件网关中继白名单

## 预防
- 新增发件服务器时同步更新 SPF 记录
""",
    ),
    Page(
        "wiki/data/kafka-lag.md",
        "Kafka 消费延迟排查",
        ("消息队列", "Kafka"),
        """## 故障现象
- 数据同步延迟超过 30 分钟，consumer lag 持续升高

## 排查步骤
1. 使用 `kafka-consumer-groups.sh --describe` 查看各分区 lag
2. 确认消费者实例数与分区数是否匹配
3. 检查消费逻辑中是否有同步调用外部接口导致的阻塞

## 修复
- 扩容消费者实例，或增加分区数
- 将外部调用改为批量异步

## 预防
- consumer lag 超过 10000 告警
""",
    ),
    Page(
        "wiki/process/customer-complaint.md",
        "客户投诉处理流程",
        ("客户", "流程"),
        """## 流程
1. 一线客服在 30 分钟内响应投诉，安抚客户情绪并记录诉求
2. 判断问题类型：产品缺陷、服务态度、交付延期
3. 产品缺陷转二线技术支持，并在工单中关联问题单
4. 24 小时内给客户书面答复，结案前需客户确认

## 注意事项
- 重点客户（金融、国家电网）的投诉需同步给客户经理
""",
    ),
)

# (query, key expected first)
EXPECTED_FIRST: tuple[tuple[str, str], ...] = (
    ("数据库连接", "wiki/faq/db-timeout.md"),
    ("数据库连接超时", "wiki/faq/db-timeout.md"),
    ("登录 403", "wiki/faq/login-403.md"),
    ("登录报错403", "wiki/faq/login-403.md"),
    ("线缆", "wiki/hardware/cable.md"),
    ("VPN 断网", "wiki/network/vpn.md"),
    ("vpn", "wiki/network/vpn.md"),
    ("权限开通", "wiki/process/access-request.md"),
    ("502 bad gateway", "wiki/app/nginx-502.md"),
    ("nginx 502", "wiki/app/nginx-502.md"),
    ("磁盘空间不足", "wiki/ops/disk-full.md"),
    ("No space left on device", "wiki/ops/disk-full.md"),
    ("OutOfMemoryError", "wiki/app/oom.md"),
    ("内存溢出", "wiki/app/oom.md"),
    ("证书过期", "wiki/app/cert-expired.md"),
    ("SMTP 550", "wiki/app/smtp-550.md"),
    ("kafka 消费延迟", "wiki/data/kafka-lag.md"),
    ("consumer lag", "wiki/data/kafka-lag.md"),
    ("客户投诉", "wiki/process/customer-complaint.md"),
)

# ----------------------------------------------------------------------------------- generated pages

SYSTEMS = (
    "订单服务",
    "支付网关",
    "CRM 系统",
    "ERP",
    "OA 办公系统",
    "门户网站",
    "会员中心",
    "报表平台",
    "BotHub",
    "工单系统",
    "TaskSteper",
    "监控平台 Prometheus",
    "Jenkins 构建机",
    "GitLab",
    "K8s 集群",
    "Redis 缓存",
    "MySQL 主库",
    "对象存储 OSS",
    "短信网关",
    "邮件服务器",
    "呼叫中心",
    "数据仓库",
    "BI 看板",
    "API 网关",
)
OWNERS = ("fan", "li.wei", "zhang.min", "wang.fang", "chen.jie", "oncall-sre", "liu.yang")
ENVS = ("生产环境", "预发环境", "测试环境", "灾备机房", "华东局点", "华南局点")
CODES = ("200", "301", "400", "401", "404", "429", "500", "503", "504")

# Each topic: tags, title templates, and line pools per section. {sys} {code} {n} {owner} {env} {pct} are filled in.
TOPICS: tuple[dict[str, tuple[str, ...]], ...] = (
    {
        "tags": ("网络", "网络故障"),
        "titles": ("{sys} 网络抖动排查", "{sys} 访问缓慢", "{env} 网络丢包处理", "{sys} 跨机房延迟高"),
        "symptom": (
            "用户反馈{sys}页面打开缓慢，偶发超时",
            "监控显示{env}到{sys}的 ping 延迟超过 200ms，丢包率 {pct}%",
            "部分请求返回 {code}，重试后恢复",
            "网络连接不稳定，TCP 重传率升高",
        ),
        "steps": (
            "使用 ping 和 traceroute 检查链路丢包位置",
            "查看交换机端口是否有 CRC 错误或 duplex 不匹配",
            "用 mtr 持续观察 10 分钟，记录丢包节点",
            "确认是否有大流量备份任务占满带宽",
            "检查负载均衡健康检查结果，确认后端节点状态",
        ),
        "fix": (
            "调整 QoS 策略，保障业务流量优先",
            "更换故障的交换机端口并恢复链路",
            "联系运营商排查骨干网抖动",
        ),
        "prevent": ("为关键链路配置双上联", "在监控平台增加丢包率告警"),
    },
    {
        "tags": ("应用报错",),
        "titles": ("{sys} 报错 {code} 处理", "{sys} 接口异常排查", "{sys} 页面白屏", "{sys} 服务启动失败"),
        "symptom": (
            "{sys}接口返回 {code}，错误率 {pct}%",
            "日志出现 NullPointerException，调用链中断",
            "前端控制台报错 `Uncaught TypeError`",
            "发布后服务无法启动，端口被占用",
        ),
        "steps": (
            "根据 traceId 在日志平台检索完整调用链",
            "对比发布前后的配置差异",
            "检查接口返回码（200/403/500）分布",
            "确认依赖服务是否可用，必要时降级",
            "在预发环境复现问题并抓包分析",
        ),
        "fix": ("回滚到上一版本", "修复空指针并补充单元测试", "释放被占用的端口后重启服务"),
        "prevent": ("发布流程增加冒烟测试", "关键接口配置错误率告警"),
    },
    {
        "tags": ("权限", "账号"),
        "titles": ("{sys} 账号权限申请", "{sys} 账号被锁定", "{sys} 只读权限配置", "{sys} 密码重置"),
        "symptom": (
            "用户反馈无法访问{sys}的管理菜单",
            "账号连续输错密码 5 次后被锁定",
            "访问报表时提示没有权限",
        ),
        "steps": (
            "在 IAM 控制台确认账号状态与角色",
            "确认申请是否已经过直属主管审批",
            "核对权限申请工单中的系统与期限",
            "检查 LDAP 同步是否延迟",
        ),
        "fix": ("管理员解锁账号并通知用户修改密码", "按最小权限原则补充角色", "手动触发 LDAP 同步"),
        "prevent": ("每季度进行一次权限审计", "离职流程自动回收账号"),
    },
    {
        "tags": ("硬件",),
        "titles": (
            "服务器硬盘故障更换",
            "{env} UPS 告警处理",
            "光模块故障处理",
            "服务器风扇告警",
            "{sys} 物理机宕机",
        ),
        "symptom": (
            "带外管理 iBMC 上报硬盘 Predictive Failure",
            "机房 UPS 切换到电池供电并告警",
            "服务器风扇转速异常，温度超过 {pct} 度",
            "物理机宕机，业务自动切换到备节点",
        ),
        "steps": (
            "记录时间、局点、设备型号",
            "登录 iBMC 导出日志并拍照留存",
            "确认 RAID 状态，判断是否可以在线热插拔",
            "联系厂商 400 热线报修，提供序列号",
            "判断是否为典型问题，是则在 Buglist 中登记",
        ),
        "fix": ("更换故障硬盘后等待 RAID 重建完成", "更换风扇模块", "协调机房更换 UPS 电池"),
        "prevent": ("建立备件库存台账", "每季度巡检一次机房设备"),
    },
    {
        "tags": ("数据库", "性能"),
        "titles": (
            "{sys} 慢查询优化",
            "MySQL 主从延迟",
            "{sys} 死锁排查",
            "数据库备份失败",
            "{sys} 表空间不足",
        ),
        "symptom": (
            "数据库 CPU 使用率持续 {pct}%",
            "主从复制延迟超过 300 秒",
            "应用日志出现 Deadlock found when trying to get lock",
            "夜间备份任务失败，备份文件大小为 0",
        ),
        "steps": (
            "开启慢查询日志，分析 Top 10 SQL",
            "使用 explain 查看执行计划，确认是否走索引",
            "查看 show engine innodb status 中的死锁信息",
            "确认备份账号密码未过期，备份目录磁盘空间充足",
            "检查数据库连接数与连接池配置",
        ),
        "fix": ("为高频查询字段补充索引", "拆分大事务，减少锁持有时间", "修复备份脚本并手动补做一次全量备份"),
        "prevent": ("上线前 SQL 评审", "备份结果每日巡检"),
    },
    {
        "tags": ("发布", "流程"),
        "titles": ("{sys} 版本发布回滚流程", "{sys} 灰度发布检查单", "{sys} 发布窗口申请", "变更评审流程"),
        "symptom": ("发布后监控指标异常，需要快速回滚", "灰度 {pct}% 流量后错误率上升"),
        "steps": (
            "确认变更单已审批，发布窗口在业务低峰期",
            "按检查单逐项确认：配置、数据库脚本、回滚方案",
            "先灰度 5% 流量，观察 15 分钟",
            "通知客服与值班 SRE（oncall）发布开始",
            "记录发布版本号与 commit",
        ),
        "fix": ("执行回滚脚本恢复上一版本", "暂停灰度并通知相关方"),
        "prevent": ("所有发布必须附带回滚方案", "发布后 30 分钟内由值班人确认指标"),
    },
    {
        "tags": ("安全",),
        "titles": ("{sys} 弱口令整改", "{sys} 漏洞扫描告警", "{sys} 异常登录告警", "钓鱼邮件处置"),
        "symptom": (
            "安全扫描发现{sys}存在弱口令",
            "漏洞扫描报告高危漏洞 CVE-2024-{n}",
            "同一账号在两个城市同时登录",
        ),
        "steps": (
            "确认告警真实性，排除误报",
            "临时封禁可疑 IP",
            "通知账号所有人修改密码并开启 MFA",
            "评估漏洞影响范围并制定修复计划",
        ),
        "fix": ("升级组件到修复版本", "强制重置弱口令账号"),
        "prevent": ("密码策略要求 12 位以上并包含数字与符号", "每月一次漏洞扫描"),
    },
    {
        "tags": ("客户", "服务"),
        "titles": ("{sys} 重点客户保障", "{sys} 客户回访流程", "双十一保障方案", "{sys} 用户反馈处理"),
        "symptom": ("重点客户反馈{sys}使用体验下降", "客户要求提供故障报告（RCA）"),
        "steps": (
            "在 30 分钟内响应客户并确认影响",
            "拉通产品、研发、客服建立保障群",
            "整理时间线，24 小时内输出 RCA 初稿",
            "安抚客户情绪，说明临时规避方案",
        ),
        "fix": ("按 RCA 中的改进项跟踪落地", "为重点客户建立设备档案"),
        "prevent": ("关键时间点前进行保障演练", "典型问题沉淀到知识库"),
    },
    {
        "tags": ("存储",),
        "titles": ("{sys} 日志清理", "{sys} 文件上传失败", "NAS 挂载失败", "{sys} 对象存储访问慢"),
        "symptom": (
            "上传文件时提示 413 Request Entity Too Large",
            "NAS 挂载点无响应，df 命令卡住",
            "日志目录占用 {pct}GB",
        ),
        "steps": (
            "检查 client_max_body_size 配置",
            "确认 NFS 服务端是否存活，网络是否可达",
            "使用 du 命令定位大文件",
        ),
        "fix": ("调整上传大小限制", "重新挂载 NAS 并加入 fstab 的 soft 选项", "配置 logrotate"),
        "prevent": ("日志统一接入日志平台", "存储容量月度规划"),
    },
    {
        "tags": ("办公", "IT 支持"),
        "titles": (
            "打印机无法连接",
            "Wi-Fi 无法上网",
            "Outlook 无法收信",
            "会议室投屏失败",
            "新员工电脑配置",
        ),
        "symptom": (
            "打印任务一直排队，打印机显示脱机",
            "笔记本连上 Wi-Fi 但无法上网",
            "Outlook 提示需要密码",
        ),
        "steps": (
            "重启打印机并确认 IP 地址",
            "执行 ipconfig /release 与 ipconfig /renew",
            "确认域账号密码未过期",
            "检查投屏盒子固件版本",
        ),
        "fix": ("重新添加网络打印机", "重置网络适配器", "重新配置邮箱账号"),
        "prevent": ("IT 服务台发布自助排查指南",),
    },
    {
        "tags": ("监控", "告警"),
        "titles": ("{sys} CPU 使用率过高", "{sys} 告警风暴处理", "{sys} 监控数据缺失", "{sys} 响应时间告警"),
        "symptom": (
            "CPU 使用率持续 {pct}% 超过 10 分钟",
            "同一故障 5 分钟内触发上百条告警",
            "Grafana 面板数据断点",
        ),
        "steps": (
            "使用 top 与 jstack 定位高 CPU 线程",
            "确认告警收敛规则是否生效",
            "检查 node_exporter 是否存活",
            "查看最近是否有定时任务或流量突增",
        ),
        "fix": ("优化热点代码并扩容实例", "配置告警抑制与分组", "重启采集进程"),
        "prevent": ("告警分级：P1 电话、P2 短信、P3 邮件",),
    },
)

FILLER = (
    "如问题仍未解决，请升级至二线支持并在工单中记录处理过程",
    "处理过程中注意保留现场日志，便于事后复盘",
    "涉及生产变更时先提交变更单",
    "联系值班 SRE（oncall）确认影响范围",
    "结论同步到知识库，并关联相关工单",
    "参考 SOP：故障处理标准流程 v{n}",
    "若影响超过 {pct} 个用户，按 P1 处理",
    "更新工单状态为“待用户确认”",
)


def _fill(rng: random.Random, line: str, system: str) -> str:
    return line.format(
        sys=system,
        code=rng.choice(CODES),
        n=rng.randint(1, 9999),
        owner=rng.choice(OWNERS),
        env=rng.choice(ENVS),
        pct=rng.randint(5, 99),
    )


def _section(rng: random.Random, system: str, pool: tuple[str, ...], count: int, numbered: bool) -> list[str]:
    lines = rng.sample(pool, min(count, len(pool)))
    lines += [rng.choice(FILLER) for _ in range(rng.randint(1, 2))]
    out = []
    for i, line in enumerate(lines, 1):
        text = _fill(rng, line, system)
        out.append(f"{i}. {text}" if numbered else f"- {text}")
    return out


def generated_page(rng: random.Random, i: int) -> Page:
    topic = rng.choice(TOPICS)
    system = rng.choice(SYSTEMS)
    title = _fill(rng, rng.choice(topic["titles"]), system).strip()
    tags = tuple(topic["tags"]) + ((system.split()[0],) if rng.random() < 0.5 else ())
    body = [
        f"> 适用范围：{system}（{rng.choice(ENVS)}）。维护人：{rng.choice(OWNERS)}。",
        "",
        "## 故障现象",
        *_section(rng, system, topic["symptom"], rng.randint(2, 3), False),
        "",
        "## 排查步骤",
        *_section(rng, system, topic["steps"], rng.randint(4, 5), True),
        "",
        "## 修复",
        *_section(rng, system, topic["fix"], rng.randint(2, 3), False),
        "",
        "## 预防",
        *_section(rng, system, topic["prevent"], 2, False),
        "",
        "## 相关",
        f"- 关联工单：ISS-{rng.randint(1, 500)}，IMP-{rng.randint(1, 80)}",
    ]
    return Page(f"wiki/kb/p{i:05d}.md", title, tags, "\n".join(body) + "\n")


def make_pages(n: int = 240, seed: int = SEED) -> list[Page]:
    """The target pages plus ``n - len(TARGETS)`` generated ones (at least the targets), in a seeded order."""
    rng = random.Random(seed)
    pages = list(TARGETS) + [generated_page(rng, i) for i in range(max(0, n - len(TARGETS)))]
    rng.shuffle(pages)
    return pages


def make_docs(n: int = 240, seed: int = SEED) -> list[Doc]:
    return [p.doc() for p in make_pages(n, seed)]
