#!/usr/bin/env python3
"""Render the demo's sample document photos: one distinct JPEG per photo every material of the
built-in catalogue asks for (身份证 正面 and 反面, 户口簿 户主页 and 本人页, 一寸照片, 委托书, four
site photos, …), each a made-up specimen clearly marked 样例 and photographed on a desk.

Usage: scripts/sample-documents.py OUT_DIR [CATALOGUE_JSON]

Files are named `<material>-<n>-<what>.jpg` (e.g. `居民身份证-1-正面.jpg`) so the preview's
sample picker lists them in the order the materials ask for them. The ID card also has a
second take of each side (`居民身份证-2-反面-重拍.jpg`), for the correction a reviewer asks
for. Needs ImageMagick and
fonts-noto-cjk (scripts/setup.sh installs both). Every name, number and address is invented.
"""

import json
import os
import subprocess
import sys

SANS = "Noto-Sans-CJK-SC"
SANS_BOLD = "Noto-Sans-CJK-SC-Bold"
SERIF = "Noto-Serif-CJK-SC"

# A made-up resident and agent, used on every document so a demo application looks coherent.
PERSON = {
    "name": "张秀英",
    "sex": "女",
    "born": "1950年3月7日",
    "id": "370611 1950 0307 00××",
    "address": "山东省烟台市桃源镇王家村58号",
}

# Extra lines for the generic documents, by material code (a title comes from the catalogue).
LINES = {
    "low_income_cert": ["证号：DB-3706-2024-0158", "户主：张秀英　家庭人口：2人", "保障类别：农村低保　月保障金：560元", "有效期：2024年1月至2026年12月"],
    "medical_receipts": ["烟台市桃源镇卫生院 门诊收费票据", "姓名：张秀英　医保类型：城乡居民", "西药费　86.40　检查费　120.00", "合计（大写）贰佰零陆元肆角整　¥206.40"],
    "medical_records": ["出院记录", "姓名：张秀英　性别：女　年龄：75岁", "入院诊断：高血压病3级；冠心病", "出院情况：病情稳定，遵医嘱按时服药，门诊随访"],
    "expense_list": ["住院费用明细清单（第1页 共1页）", "床位费　15天×30.00＝450.00", "药品费　3,216.80　检查费　1,480.00", "总计　5,146.80元　个人自付　1,029.36元"],
    "birth_medical_cert": ["出生医学证明　编号 R370000001", "新生儿姓名：王小禾　性别：男", "出生时间：2025年10月12日 8时20分", "母亲：李春燕　父亲：王建国"],
    "marriage_cert": ["结婚证　字号 J370611-2024-000321", "持证人：王建国　登记日期：2024年5月20日", "姓名：王建国　性别：男", "姓名：李春燕　性别：女"],
    "family_finance_consent": ["本人及家庭成员同意民政部门核对家庭", "收入、财产状况，授权相关单位提供信息。", "签名：张秀英（按手印）", "日期：2026年11月28日"],
    "incident_proof": ["证　明", "兹证明王家村村民张秀英家于2026年7月", "因暴雨房屋倒塌两间，损失约三万元。", "特此证明。　王家村村民委员会"],
    "referral_letter": ["转诊转院证明", "患者张秀英，因冠心病需转往", "烟台毓璜顶医院进一步诊治。", "转出医院：桃源镇卫生院（盖章）"],
    "filing_commitment": ["异地就医个人承诺书", "本人因随子女居住需在外地就医，", "承诺所提供信息真实，如有不实愿承担责任。", "承诺人：张秀英　2026年11月28日"],
    "building_plan": ["农村住房设计图　一层平面图　1:100", "开间 3.6m×3　进深 9.0m", "建筑面积 97.2㎡　层数 1层", "设计：桃源镇村镇建设服务站"],
    "homestead_commitment": ["宅基地使用承诺书", "本人承诺一户只有一处宅基地，", "建房不占用耕地，不超过批准面积。", "承诺人：张秀英（按手印）"],
    "discharge_cert": ["退伍军人证", "姓名：王建国　入伍时间：2008年12月", "退役时间：2013年12月", "部别：某部队　证号：TW20130888"],
    "survivor_cert": ["烈士遗属证", "持证人：张秀英　与烈士关系：配偶", "烈士姓名：王德山", "证号：LS3706110023"],
    "termination_proof": ["解除劳动合同证明", "兹证明王建国自2019年3月至2026年9月", "在我公司工作，双方于2026年9月30日", "解除劳动合同。　烟台某某食品有限公司（盖章）"],
    "authorisation": ["授权委托书", "委托人：张秀英　受托人：王家村代办员", "委托事项：代为办理老年人优待证", "委托人签字：张秀英（按手印）　2026年11月28日"],
    "disability_cert": ["中华人民共和国残疾人证", "姓名：张秀英　性别：女", "残疾类别：肢体　残疾等级：三级", "有效期至：2031年6月30日"],
    "bank_card": ["农村商业银行　储蓄存折", "户名：张秀英", "账号：6230 **** **** 2618", "开户行：桃源镇支行"],
}

# What each photo of a multi-photo material shows.
SIDES = {
    "id_card": ["正面", "反面"],
    "household_register": ["户主页", "本人页"],
    "disability_cert": ["照片页", "类别等级页"],
    "site_photo": ["向东", "向南", "向西", "向北"],
}


# Materials with a second take of each side (`…-重拍.jpg`): what the agent sends when the
# centre returns an application for a clearer ID card.
RETAKES = {"id_card"}


def run(args):
    subprocess.run(["convert", *args], check=True)


def text(x, y, s, size, font=SANS, fill="#222"):
    return ["-font", font, "-pointsize", str(size), "-fill", fill, "-annotate", f"+{x}+{y}", s]


def watermark(w, h):
    """The 样例 mark, across the middle and in the lower left corner."""
    size = max(w, h) // 9
    return [
        "(", "-size", f"{w}x{h}", "xc:none", "-font", SANS_BOLD, "-pointsize", str(size), "-fill", "rgba(210,30,30,0.28)",
        "-gravity", "center", "-annotate", "-25x-25+0+0", "样例 SAMPLE", ")", "-gravity", "northwest", "-composite",
        "-font", SANS_BOLD, "-pointsize", str(size // 3), "-fill", "rgba(210,30,30,0.85)", "-annotate", f"+{w // 30}+{h - h // 30}", "样例",
    ]


def photographed(out, angle):
    """Lay the rendered document on a desk and take its photo: border, tilt, shade, noise."""
    return [
        "-bordercolor", "#8a7560", "-border", "60", "-background", "#8a7560", "-rotate", str(angle),
        "-attenuate", "0.35", "+noise", "Gaussian", "-resize", "1600x1600>", "-quality", "86", "-sampling-factor", "2x2", out,
    ]


def seal(cx, cy, r, words):
    return [
        "-stroke", "rgba(200,20,20,0.8)", "-strokewidth", "6", "-fill", "none", "-draw", f"circle {cx},{cy} {cx + r},{cy}",
        "-stroke", "none", "-fill", "rgba(200,20,20,0.8)", "-font", SANS_BOLD, "-pointsize", str(r // 2),
        "-annotate", f"+{cx - r // 4}+{cy + r // 6}", "★", "-font", SANS_BOLD, "-pointsize", str(r // 5), "-annotate", f"+{cx - r + 25}+{cy + r // 2 + 10}", words,
    ]


def silhouette(x, y, w, h, background):
    head = w // 4
    cx = x + w // 2
    return [
        "-fill", background, "-draw", f"rectangle {x},{y} {x + w},{y + h}",
        "-fill", "#556070", "-draw", f"circle {cx},{y + h * 2 // 5} {cx + head},{y + h * 2 // 5}",
        "-draw", f"ellipse {cx},{y + h} {w * 9 // 20},{h * 2 // 5} 180,360",
    ]


def id_front(out, angle=-2.5):
    w, h = 1712, 1080
    run(["-size", f"{w}x{h}", "gradient:#eef6f4-#cfe4ea", *silhouette(1160, 180, 420, 520, "#dfe9ee"),
         *text(110, 220, "姓  名", 46, fill="#3a6a8a"), *text(330, 220, PERSON["name"], 62, SANS_BOLD),
         *text(110, 340, "性  别", 46, fill="#3a6a8a"), *text(330, 340, PERSON["sex"], 56),
         *text(560, 340, "民  族", 46, fill="#3a6a8a"), *text(780, 340, "汉", 56),
         *text(110, 460, "出  生", 46, fill="#3a6a8a"), *text(330, 460, PERSON["born"], 56),
         *text(110, 580, "住  址", 46, fill="#3a6a8a"), *text(330, 580, "山东省烟台市桃源镇", 56), *text(330, 660, "王家村58号", 56),
         *text(110, 900, "公民身份号码", 46, fill="#3a6a8a"), *text(520, 900, PERSON["id"], 60, SANS_BOLD),
         *watermark(w, h), *photographed(out, angle)])


def id_back(out, angle=1.8):
    w, h = 1712, 1080
    run(["-size", f"{w}x{h}", "gradient:#f4efe2-#e2d9c0",
         "-fill", "rgba(200,20,20,0.85)", "-draw", "circle 260,240 380,240", *text(200, 290, "★", 120, SANS_BOLD, "#f6d24a"),
         *text(520, 250, "中华人民共和国", 92, SANS_BOLD, "#333"), *text(600, 420, "居民身份证", 110, SERIF, "#333"),
         *text(330, 780, "签发机关", 46, fill="#555"), *text(600, 780, "烟台市公安局桃源分局", 54),
         *text(330, 900, "有效期限", 46, fill="#555"), *text(600, 900, "2015.03.07-长期", 54),
         *watermark(w, h), *photographed(out, angle)])


def booklet(out, title, rows, angle):
    w, h = 1240, 1700
    args = ["-size", f"{w}x{h}", "xc:#f7f3ea", "-fill", "none", "-stroke", "#7a4a2a", "-strokewidth", "4",
            "-draw", f"rectangle 70,200 {w - 70},{h - 120}", "-stroke", "none", *text(w // 2 - 260, 150, title, 70, SERIF, "#7a2a1a")]
    y = 200
    for label, value in rows:
        y += 150
        args += ["-stroke", "#b89a7a", "-strokewidth", "2", "-draw", f"line 70,{y + 40} {w - 70},{y + 40}", "-stroke", "none",
                 *text(110, y, label, 44, fill="#7a4a2a"), *text(420, y, value, 50)]
    run(args + seal(w - 300, h - 330, 150, "户口专用章") + watermark(w, h) + photographed(out, angle))


def household(out, side):
    if side == "户主页":
        booklet(out, "常住人口登记卡（户主页）", [("户  别", "家庭户"), ("户主姓名", PERSON["name"]), ("户  号", "370611003158"),
                                          ("住  址", "桃源镇王家村58号"), ("登记日期", "1986年5月4日")], 1.2)
    else:
        booklet(out, "常住人口登记卡", [("姓  名", PERSON["name"]), ("与户主关系", "户主"), ("性  别", PERSON["sex"]),
                                   ("出生日期", PERSON["born"]), ("民  族", "汉"), ("公民身份号码", PERSON["id"])], -1.4)


def document(out, title, lines, angle):
    w, h = 1240, 1754
    args = ["-size", f"{w}x{h}", "xc:#fbfbf8", *text(120, 210, title, 72, SERIF, "#111")]
    y = 420
    for line in lines:
        args += text(120, y, line, 50)
        y += 130
    for k in range(4):  # body text as grey lines, as a photographed page shows it
        args += ["-fill", "#c8c8c8", "-draw", f"rectangle 120,{y + k * 70} {w - 160 - (k % 2) * 220},{y + k * 70 + 22}"]
    run(args + seal(w - 330, h - 420, 160, "专用章") + watermark(w, h) + photographed(out, angle))


def portrait(out, background, label):
    w, h = 826, 1157  # 一寸 at 600 dpi
    run(["-size", f"{w}x{h}", f"xc:{background}", *silhouette(0, 0, w, h, background), *text(40, h - 60, label, 40, fill="#333"),
         *watermark(w, h), "-attenuate", "0.3", "+noise", "Gaussian", "-quality", "88", out])


def site(out, direction, n):
    w, h = 1600, 1200
    sky = ["#9cc3e6", "#b4d0e8", "#a7c7e0", "#c3d6e6"][n % 4]
    run(["-size", f"{w}x{h}", f"gradient:{sky}-#e8eef2", "-fill", "#7d8f5a", "-draw", f"rectangle 0,{h * 3 // 5} {w},{h}",
         "-fill", "#b9b2a6", "-draw", f"polygon {w // 2 - 120},{h} {w // 2 + 120},{h} {w // 2 + 20},{h * 3 // 5} {w // 2 - 20},{h * 3 // 5}",
         "-fill", "#c9b8a0", "-draw", f"rectangle {200 + n * 220},{h // 2 - 60} {520 + n * 220},{h * 3 // 5 + 20}",
         "-fill", "#8a4a3a", "-draw", f"polygon {180 + n * 220},{h // 2 - 60} {540 + n * 220},{h // 2 - 60} {360 + n * 220},{h // 2 - 180}",
         *text(60, 110, f"拟建地 {direction}", 70, SANS_BOLD, "#fff"), *watermark(w, h),
         "-attenuate", "0.5", "+noise", "Gaussian", "-quality", "85", out])


def render(material, k, what, out, retake=False):
    code = material["code"]
    if code == "id_card" and retake:
        (id_front if k == 0 else id_back)(out, [0.6, -0.4][k])
    elif code == "id_card":
        (id_front if k == 0 else id_back)(out)
    elif code == "household_register":
        household(out, what)
    elif code == "photo_1inch":
        portrait(out, "#3c8fd8", "")
    elif code == "on_site_photo":
        portrait(out, "#e9e6df", "本人现场照片")
    elif code == "site_photo":
        site(out, what, k)
    else:
        lines = LINES.get(code, [f"姓名：{PERSON['name']}", f"住址：{PERSON['address']}"])
        if what:
            lines = [f"（{what}）", *lines]
        document(out, material["name"]["zh"], lines, [1.5, -1.8, 2.2, -1.1][k % 4])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    catalogue = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "assets", "catalogue", "default.json")
    with open(catalogue, encoding="utf-8") as f:
        materials = json.load(f)["materials"]
    os.makedirs(out_dir, exist_ok=True)
    for m in materials:
        sides = SIDES.get(m["code"], [])
        for k in range(m["photos"]):
            what = sides[k] if k < len(sides) else ""
            for retake in [False, True] if m["code"] in RETAKES else [False]:
                name = f"{m['name']['zh']}-{k + 1}" + (f"-{what}" if what else "") + ("-重拍" if retake else "") + ".jpg"
                path = os.path.join(out_dir, name)
                if not os.path.exists(path):
                    part = f"{path}.{os.getpid()}.part.jpg"  # two runs at once never share a file
                    render(m, k, what, part, retake)
                    os.replace(part, path)


if __name__ == "__main__":
    main()
