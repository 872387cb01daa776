"""The demo group: HQ and two subsidiaries, one person for every role, tenants and
documents of every level and category — multi-page contracts, certificates with
their numbers, holders and custodian, a notice with a scanned sign-off sheet, a
hotline call spoken in Chinese, an original out on loan, and files registered more
than a year ago waiting in the annual-review queue. Idempotent: a second run
changes nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from vault.models import Company, Document, FollowUp
from vault.policy import CERTIFICATES, Category, CopyKind, Level
from vault.services import (
    accounts,
    certificates,
    copies,
    deposits,
    documents,
    followups,
    letters,
    meetings,
    notices,
    recordings,
    requests,
    samples,
    tenants,
)
from vault.services.context import Ctx, Infra, unit_of_work

COMPANIES = [
    ("HQ", "华信物业集团总公司", True),
    ("SZ", "深圳华信物业有限公司", False),
    ("GZ", "广州华信物业有限公司", False),
]

DEPARTMENTS = [
    ("HQ", "OFFICE", "总经理办公室"),
    ("HQ", "LEGAL", "法务合规部"),
    ("HQ", "IT", "信息技术部"),
    ("SZ", "CS", "客户服务部"),
    ("SZ", "FIN", "财务部"),
    ("SZ", "ADM", "行政部"),
    ("GZ", "CS", "客户服务部"),
    ("GZ", "ADM", "行政部"),
]

# username, name, company, department, roles
PEOPLE = [
    ("wang.zong", "王总（总经理）", "HQ", "OFFICE", "hq_executive"),
    ("li.fuzong", "李副总（副总经理）", "HQ", "OFFICE", "hq_executive"),
    ("zhao.hegui", "赵合规", "HQ", "LEGAL", "compliance"),
    ("admin", "系统管理员", "HQ", "IT", "admin"),
    ("qian.baoguan", "钱保管（总公司）", "HQ", "OFFICE", "custodian,staff"),
    ("chen.gm", "陈总（深圳总经理）", "SZ", "ADM", "company_gm"),
    ("liu.jingli", "刘经理（客服部经理）", "SZ", "CS", "dept_manager,staff"),
    ("zhou.zhuguan", "周主管", "SZ", "CS", "supervisor,staff"),
    ("wu.yuangong", "吴员工", "SZ", "CS", "staff"),
    ("zheng.caiwu", "郑财务", "SZ", "FIN", "staff"),
    ("sun.baoguan", "孙保管", "SZ", "ADM", "custodian,staff"),
    ("huang.gm", "黄总（广州总经理）", "GZ", "ADM", "company_gm"),
    ("lin.kefu", "林客服", "GZ", "CS", "staff"),
    ("he.baoguan", "何保管（广州）", "GZ", "ADM", "custodian,staff"),
]

TENANTS = [
    ("T001", "华南贸易有限公司", "A座1201", "张先生 138-0000-0001"),
    ("T002", "深港咨询有限公司", "B座0805", "李女士 138-0000-0002"),
    ("T003", "王小明", "C座2303", "139-0000-0003"),
]

# title, category, level (None = category default), period (None = default),
# issued, registrant, supervisor, department, tenant, paper original
DOCS: list[tuple[str, Category, Level | None, str | None, date, str, str, str | None, str | None, bool]] = [  # noqa: E501
    ("2027年集团并购方案", Category.STRATEGY, None, None, date(2026, 9, 1), "li.fuzong", "wang.zong", "OFFICE", None, False),  # noqa: E501
    ("2027年度经营计划", Category.ANNUAL_PLAN, None, None, date(2026, 10, 8), "chen.gm", "chen.gm", "ADM", None, False),  # noqa: E501
    ("2026年第三季度财务报表", Category.FINANCIAL_REPORT, None, None, date(2026, 10, 15), "zheng.caiwu", "chen.gm", "FIN", None, False),  # noqa: E501
    ("2026年10月物业费收缴统计", Category.STATISTICAL_REPORT, None, "2y", date(2026, 11, 2), "zheng.caiwu", "chen.gm", "FIN", None, False),  # noqa: E501
    ("客服部工作会议纪要（2026年11月）", Category.MEETING_MINUTES, None, None, date(2026, 11, 10), "zhou.zhuguan", "zhou.zhuguan", "CS", None, False),  # noqa: E501
    ("2026年经营情况分析", Category.OPERATIONS_REPORT, None, None, date(2026, 11, 5), "chen.gm", "chen.gm", "ADM", None, False),  # noqa: E501
    ("电梯厂家技术资料", Category.SUPPLIER_TECHNICAL, None, None, date(2025, 3, 1), "zhou.zhuguan", "zhou.zhuguan", "CS", None, False),  # noqa: E501
    ("A座物业服务合同", Category.CONTRACT, None, None, date(2024, 2, 29), "zhou.zhuguan", "zhou.zhuguan", "CS", "T001", True),  # noqa: E501
    ("停车场管理协议", Category.AGREEMENT, None, "2027-06-30", date(2026, 6, 30), "zhou.zhuguan", "zhou.zhuguan", "CS", None, False),  # noqa: E501
    ("员工人事档案（客服部）", Category.PERSONNEL_FILE, None, None, date(2026, 1, 5), "sun.baoguan", "chen.gm", "ADM", None, True),  # noqa: E501
    ("2026年11月工资表", Category.SALARY, None, None, date(2026, 11, 20), "zheng.caiwu", "chen.gm", "FIN", None, False),  # noqa: E501
    ("二期项目招商方案（未公开）", Category.UNPUBLISHED_INFO, None, "condition:二期项目对外公布", date(2026, 8, 1), "chen.gm", "chen.gm", "ADM", None, False),  # noqa: E501
    ("业主及租户联系方式汇总", Category.CUSTOMER_INFO, None, None, date(2026, 7, 1), "liu.jingli", "liu.jingli", "CS", None, False),  # noqa: E501
    ("租户档案：华南贸易有限公司", Category.TENANT_ARCHIVE, None, None, date(2025, 5, 12), "wu.yuangong", "zhou.zhuguan", "CS", "T001", False),  # noqa: E501
    ("热线录音 2026-11-20 10:32（漏水报修）", Category.CALL_RECORDING, None, None, date(2026, 11, 20), "wu.yuangong", "zhou.zhuguan", "CS", "T002", False),  # noqa: E501
    ("营业执照（深圳华信物业）", Category.BUSINESS_LICENCE, None, None, date(2020, 4, 1), "sun.baoguan", "chen.gm", "ADM", None, True),  # noqa: E501
    ("组织机构代码证（深圳华信物业）", Category.ORG_CODE_CERTIFICATE, None, None, date(2020, 4, 1), "sun.baoguan", "chen.gm", "ADM", None, True),  # noqa: E501
    ("税务登记证（深圳华信物业）", Category.TAX_REGISTRATION, None, None, date(2020, 4, 1), "sun.baoguan", "chen.gm", "ADM", None, True),  # noqa: E501
    ("物业服务企业资质证书", Category.OTHER_CERTIFICATE, None, None, date(2021, 6, 1), "sun.baoguan", "chen.gm", "ADM", None, True),  # noqa: E501
    ("关于12月3日停水的通知", Category.NOTICE, None, None, date(2026, 11, 25), "zhou.zhuguan", "zhou.zhuguan", "CS", None, False),  # noqa: E501
    ("致T002租户的催缴函", Category.LETTER, Level.CONFIDENTIAL, "1y", date(2026, 11, 1), "liu.jingli", "liu.jingli", "CS", "T002", False),  # noqa: E501
    ("办公用品管理规定", Category.ADMINISTRATIVE, None, None, date(2026, 3, 1), "sun.baoguan", "chen.gm", "ADM", None, False),  # noqa: E501
    ("广州项目保洁外包合同", Category.CONTRACT, None, None, date(2026, 5, 20), "lin.kefu", "huang.gm", "CS", None, False),  # noqa: E501
    ("2026年第四季度租户大会记录", Category.TENANT_MEETING_MINUTES, None, None, date(2026, 11, 18), "zhou.zhuguan", "zhou.zhuguan", "CS", None, False),  # noqa: E501
    ("集团年度审计报告（2025）", Category.FINANCIAL_REPORT, Level.SECRET, "5y", date(2026, 4, 30), "li.fuzong", "li.fuzong", "OFFICE", None, False),  # noqa: E501
]


@dataclass(frozen=True)
class Login:
    username: str
    name: str
    roles: str
    company: str
    password: str


def load(infra: Infra, now: datetime) -> list[Login] | None:
    """Create the demo group. Returns the new logins, or None when it exists already."""
    with unit_of_work(infra, None, now) as ctx:
        if ctx.session.scalar(select(Company).where(Company.code == "HQ")) is not None:
            return None
        logins = _organisation(ctx)
    for title, category, level, period, issued, reg, sup, doc_dept, tenant, paper in DOCS:
        with unit_of_work(infra, reg, _registered_at(infra, issued, now)) as ctx:
            content, filename = samples.sample(category, title, infra.settings.font_file)
            if category is Category.CALL_RECORDING:
                _recording(ctx, title, issued, doc_dept, tenant, content, filename)
                continue
            documents.register(
                ctx,
                title=title,
                category=category,
                level=level,
                period=documents.parse_period(period) if period else None,
                issued_on=issued,
                supervisor=accounts.get_user(ctx.session, sup),
                department_code=doc_dept,
                tenant_code=tenant,
                paper_original=paper,
                content=io.BytesIO(content),
                filename=filename,
            )
    _certificates(infra, now)
    _loans(infra, now)
    _notice_sign_offs(infra, now)
    _service_records(infra, now)
    _letters(infra, now)
    with unit_of_work(infra, "zhou.zhuguan", now) as ctx:
        minutes = ctx.session.scalar(select(Document).where(
            Document.category == Category.TENANT_MEETING_MINUTES.value))
        assert minutes is not None
        meetings.set_attendees(ctx, minutes.id, ["T001", "T002", "T003"])
    return logins


def _registered_at(infra: Infra, issued: date, now: datetime) -> datetime:
    """When a demo file was registered: a month after it was issued for the files of
    past years (so they are due in the annual review, 年度审核), now for the rest."""
    then = datetime.combine(issued + timedelta(days=30), time(10, 0), infra.settings.tz)
    return then if then < now - timedelta(days=400) else now


# The SZ certificates: number, custodian, where the paper original is kept, validity.
CERTIFICATE_PLACES = {
    Category.BUSINESS_LICENCE: ("行政部保险柜 A-1", date(2040, 3, 31)),
    Category.ORG_CODE_CERTIFICATE: ("行政部保险柜 A-1", None),
    Category.TAX_REGISTRATION: ("行政部保险柜 A-2", None),
    Category.OTHER_CERTIFICATE: ("行政部档案柜 B-3", date(2027, 5, 31)),
}


def _certificates(infra: Infra, now: datetime) -> None:
    with unit_of_work(infra, "sun.baoguan", now) as ctx:
        certs = ctx.session.scalars(select(Document).where(
            Document.category.in_([c.value for c in CERTIFICATES])).order_by(Document.id))
        for doc in list(certs):
            place, valid = CERTIFICATE_PLACES[Category(doc.category)]
            certificates.set_details(
                ctx, doc.id, number=samples.CERTIFICATE_NUMBERS[Category(doc.category)],
                custodian_username="sun.baoguan", original_location=place, valid_until=valid)


def _loans(infra: Infra, now: datetime) -> None:
    """The business licence is out on loan to the SZ general manager (a bank account
    to open), approved by an HQ executive (the GM holds the approving office himself)
    and handed over by the custodian; due back in ten days."""
    today = now.astimezone(infra.settings.tz).date()
    with unit_of_work(infra, None, now) as ctx:
        licence = ctx.session.scalar(select(Document.id).where(
            Document.category == Category.BUSINESS_LICENCE.value))
    assert licence is not None
    with unit_of_work(infra, "chen.gm", now - timedelta(days=2)) as ctx:
        req = copies.request(ctx, licence, CopyKind.LEND, "银行开立基本户，需出示营业执照原件",
                             due_on=today + timedelta(days=10)).id
    with unit_of_work(infra, "wang.zong", now - timedelta(days=2, hours=-1)) as ctx:
        copies.approve(ctx, req, note="同意，按期归还")
    with unit_of_work(infra, "sun.baoguan", now - timedelta(days=1)) as ctx:
        loan = copies.loans(ctx)[0].id
        copies.hand_over(ctx, loan, note="原件一份，已核对")


def _recording(ctx: Ctx, title: str, issued: date, department: str | None,
               tenant: str | None, content: bytes, filename: str) -> None:
    """The hotline recording is a call recording (listed under 录音), not a bare file."""
    tz = ctx.settings.tz
    called = datetime.combine(issued, time(10, 32), tz)
    called = min(called, ctx.now - timedelta(hours=1))  # a clock before the call
    recordings.register(
        ctx, content=io.BytesIO(content), filename=filename, caller_number="138-0000-0002",
        called_at=called, agent="吴员工", request_ref="SR-2026-1120-01", title=title,
        department_code=department, tenant_code=tenant)


# The water-cut notice goes to every SZ tenant; one has signed on site (签收).
NOTICE_TITLE = "关于12月3日停水的通知"
NOTICE_RECIPIENTS = ("T001", "T002", "T003")


def _notice_sign_offs(infra: Infra, now: datetime) -> None:
    with unit_of_work(infra, "zhou.zhuguan", now) as ctx:
        notice = ctx.session.scalar(select(Document).where(Document.title == NOTICE_TITLE))
        assert notice is not None
        notice_id, issued = notice.id, notice.issued_on
        notices.set_recipients(ctx, notice_id, list(NOTICE_RECIPIENTS))
    if now.astimezone(infra.settings.tz).date() < issued:
        return  # a clock before the notice's issue date: nobody can have signed yet
    with unit_of_work(infra, "wu.yuangong", now) as ctx:
        notices.record_sign_off(ctx, notice_id, "T001", "张先生", now, "on_site",
                                note="前台现场签收")
    # T002 signed the paper sheet at the door; the scan is kept with the notice.
    day = now.astimezone(infra.settings.tz).date().isoformat()
    sheet = samples.sign_off_sheet_png(NOTICE_TITLE, [("B座0805", "深港咨询有限公司", day)],
                                       infra.settings.font_file)
    with unit_of_work(infra, "wu.yuangong", now) as ctx:
        notices.record_sign_off(ctx, notice_id, "T002", "李女士", now, "scanned",
                                sheet=(io.BytesIO(sheet), "签收单-B座0805.png"),
                                note="上门送达，纸质签收单已扫描")


# A month of customer-service records (诉求记录、投诉、回访、寄存) for SZ, so the request
# register, the follow-ups and the monthly report have something to show:
# days ago received, recorder, type, grade, channel, tenant (None: anonymous), content,
# days to close (None: still open), reply, follow-up (visitor, method, resolved, reviewer).
SERVICE: list[tuple[int, str, str, str | None, str, str | None, str, int | None, str,
                    tuple[str, str, bool, str] | None]] = [
    (34, "wu.yuangong", "repair", None, "hotline", "T001", "A座1201 空调不制冷", 1,
     "已更换压缩机电容，恢复制冷", ("wu.yuangong", "telephone", True, "zhou.zhuguan")),
    (33, "wu.yuangong", "complaint", "normal", "hotline", "T002", "夜间装修噪音扰民", 1,
     "已约谈装修单位，限定施工时间", ("wu.yuangong", "on_site", True, "zhou.zhuguan")),
    (31, "wu.yuangong", "enquiry", None, "visit", "T003", "咨询车位月租价格", 0,
     "已告知月租标准并发放价目表", None),
    (30, "zhou.zhuguan", "complaint", "important", "letter", "T001", "保洁频次不足", 2,
     "已增加保洁班次并张贴排班表", ("zhou.zhuguan", "on_site", False, "liu.jingli")),
    (28, "wu.yuangong", "repair", None, "hotline", "T002", "B座0805 卫生间漏水", 1,
     "已更换防水层并试水", ("wu.yuangong", "on_site", True, "zhou.zhuguan")),
    (27, "wu.yuangong", "complaint", "normal", "hotline", None, "电梯运行异响（匿名来电）", 2,
     "已复函说明电梯维保安排", None),
    (25, "wu.yuangong", "suggestion", None, "meeting", "T001", "建议增设电动车充电桩", 3,
     "已纳入明年改造计划", None),
    (22, "wu.yuangong", "repair", None, "web", "T003", "C座2303 门禁卡失灵", 0,
     "已重新写卡", None),
    (20, "wu.yuangong", "emergency", None, "hotline", "T002", "地下车库积水", 0,
     "已启动排水泵并设置警示", ("wu.yuangong", "telephone", True, "zhou.zhuguan")),
    (18, "wu.yuangong", "complaint", "major", "hotline", "T001", "物业费收费标准争议", 4,
     "已由总经理约见租户并书面答复", ("chen.gm", "on_site", True, "zhou.zhuguan")),
    (15, "wu.yuangong", "repair", None, "hotline", "T001", "A座走廊照明损坏", 1,
     "已更换灯具", None),
    (12, "wu.yuangong", "complaint", "normal", "web", "T003", "快递柜经常故障", 2,
     "已联系快递柜运营方维修", ("wu.yuangong", "telephone", True, "zhou.zhuguan")),
    (9, "wu.yuangong", "repair", None, "hotline", "T002", "B座空调冷凝水滴落", 1,
     "已疏通排水管", None),
    (6, "wu.yuangong", "enquiry", None, "hotline", None, "询问停水时间（匿名来电）", 0,
     "已告知12月3日停水安排", None),
    (5, "wu.yuangong", "complaint", "normal", "hotline", "T002", "保安态度生硬", None, "", None),
    (3, "wu.yuangong", "repair", None, "hotline", "T003", "C座2303 水龙头漏水", None, "", None),
    (1, "wu.yuangong", "emergency", None, "hotline", "T001", "A座12楼烟感报警", None, "", None),
]


def _service_records(infra: Infra, now: datetime) -> None:
    tz = infra.settings.tz
    for n, (ago, who, kind, grade, channel, tenant, content, close_after, reply,
            visit) in enumerate(SERVICE):
        received = (now - timedelta(days=ago)).replace(microsecond=0)
        with unit_of_work(infra, who, received) as ctx:
            req = requests.create(ctx, kind=kind, grade=grade, channel=channel,
                                  tenant_code=tenant, content=content, received_at=received,
                                  caller=None if tenant else "来电未留姓名")
            req_id = req.id
            if kind == "complaint" and tenant is None:
                letter, name = samples.sample(Category.LETTER, "复函", infra.settings.font_file)
                requests.attach_reply_letter(ctx, req_id, io.BytesIO(letter), name)
        if close_after is None:
            continue
        closed = received + timedelta(days=close_after, hours=3)
        with unit_of_work(infra, who, closed) as ctx:
            requests.start(ctx, req_id)
            req = requests.close(ctx, req_id, reply)
            fu = ctx.session.scalar(select(FollowUp).where(FollowUp.request_id == req.id))
            fu_id = fu.id if fu is not None else None
        if visit is None or fu_id is None:
            continue
        visitor, method, resolved, reviewer = visit
        visited = closed + timedelta(days=1)
        if visited > now:
            continue
        with unit_of_work(infra, visitor, visited) as ctx:
            followups.record_visit(
                ctx, fu_id, method=method, visited_on=visited.astimezone(tz).date(),
                notes="客户表示满意" if resolved else "客户仍不满意，约定下周再访",
                resolved=resolved,
                signature=samples.signature_png(n) if method == "on_site" else None,
                next_visit_on=None if resolved else visited.astimezone(tz).date()
                + timedelta(days=7))
        with unit_of_work(infra, reviewer, visited + timedelta(hours=4)) as ctx:
            followups.review(ctx, fu_id, "回访记录完整，同意")
    event_day = now - timedelta(days=26)
    with unit_of_work(infra, "wu.yuangong", event_day) as ctx:
        followups.schedule(ctx, kind="event", trigger_on=event_day.astimezone(tz).date(),
                           subject="中秋游园会")
    with unit_of_work(infra, "wu.yuangong", now - timedelta(days=2)) as ctx:
        deposits.receive(ctx, "T001", "快递包裹一件", note="租户外出，代收")
        kept = deposits.receive(ctx, "T002", "钥匙一串")
    with unit_of_work(infra, "wu.yuangong", now - timedelta(days=1)) as ctx:
        deposits.collect(ctx, kept.id, "李女士")


LETTERHEAD = ("深圳华信物业有限公司\n"
              "Shenzhen Huaxin Property Management Co., Ltd. · 深圳市福田区华信大厦")
ELEVATOR = ("因大厦电梯年度检修，定于本月十日九时至十二时停用A座一号、二号电梯，B座电梯照常运行。\n"
            "检修期间请各位租户合理安排出行，如有不便，敬请谅解。如有疑问，请致电客服热线。")
DRILL = ("为提高大厦消防安全水平，我司定于下月五日下午三时组织全楼消防疏散演练。\n"
         "届时请各租户安排员工配合，听从现场工作人员指挥，有序疏散至大厦广场。")
NOISE = ("近期多位租户反映夜间装修噪音及公共区域保洁频次不足等问题。我司已约谈装修单位，"
         "限定施工时间，并增加保洁班次、张贴排班表。\n感谢各位租户的监督与支持。")


def _letters(infra: Infra, now: datetime) -> None:
    """对外发文: the letterhead template, a sealed letter sent to the tenants (one
    signed off), one seal request awaiting the department manager, and an open letter
    answering two complaints."""
    with unit_of_work(infra, "admin", now) as ctx:
        tpl = letters.save_template(ctx, name="深圳华信物业函头", letterhead=LETTERHEAD,
                                    closing="客户服务部\n深圳华信物业有限公司",
                                    company_code="SZ").id
        letters.save_template(ctx, name="集团通用函头", letterhead="华信物业集团总公司",
                              closing="华信物业集团总公司")
    with unit_of_work(infra, "zhou.zhuguan", now) as ctx:
        sealed = letters.draft(ctx, template_id=tpl, title="关于电梯年度检修的通知",
                               addressee="各位租户", body=ELEVATOR).letter.id
        seal = letters.request_seal(ctx, sealed, "通知全体租户电梯检修安排").id
    with unit_of_work(infra, "liu.jingli", now) as ctx:
        letters.approve_seal(ctx, seal, "同意发文")
    with unit_of_work(infra, "chen.gm", now) as ctx:
        letters.approve_seal(ctx, seal, "同意用印")
    with unit_of_work(infra, "zhou.zhuguan", now) as ctx:
        letters.send(ctx, sealed, [code for code, *_ in TENANTS])
        doc_id = letters.show(ctx, sealed).letter.document_id
    with unit_of_work(infra, "wu.yuangong", now) as ctx:
        notices.record_sign_off(ctx, doc_id, "T002", "李女士", now, "on_site")
        pending = letters.draft(ctx, template_id=tpl, title="关于开展消防疏散演练的函",
                                addressee="各位租户", body=DRILL).letter.id
        letters.request_seal(ctx, pending, "通知租户配合消防演练")
        numbers = [r.number for r in requests.search(ctx, kind="complaint")][-2:]
        letters.draft(ctx, template_id=tpl, title="关于近期租户投诉问题的处理说明", kind="open",
                      addressee="各位租户", body=NOISE, request_refs=numbers)


def _organisation(ctx: Ctx) -> list[Login]:
    for code, name, hq in COMPANIES:
        accounts.create_company(ctx, code, name, hq=hq)
    for company, code, name in DEPARTMENTS:
        accounts.create_department(ctx, company, code, name)
    logins = []
    for username, name, company, dept, roles in PEOPLE:
        _, password = accounts.create_user(
            ctx, username, name, company, dept, accounts.parse_roles(roles)
        )
        assert password is not None
        logins.append(Login(username, name, roles, company, password))
    session = ctx.session
    sz = accounts.get_company(session, "SZ")
    for code, name, unit, contact in TENANTS:
        tenants.add_tenant(session, code, name, unit, contact, company_id=sz.id)
    return logins
