# Writes bigtown.csv: one new town 110101399 under county 110101 with 399 villages (the most the
# 3-digit village numbers allow), to import into a loaded database and time its children.
rows = ["code,name,parent_code,level", "110101399,大庄乡,110101,town"]
for i in range(1, 400):
    rows.append(f"110101399{i:03d},{'城南社区' if i < 200 else '新河村'}{i},110101399,village")
open("bigtown.csv", "w").write("\n".join(rows) + "\n")
