// Case-loop strings shared by the PC back office (the `cases` namespace).
const casesZhCN = {
  title: '案件',
}

export default casesZhCN
export type CaseMessages = typeof casesZhCN
